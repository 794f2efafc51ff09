"""Dagster resources: the working warehouse, the landing zone and dbt, configured not global.

`default_resources()` reads the settings once, when the Definitions are built; assets get every path from
their resources (tests pass their own), never from the environment.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from orchestration import settings


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB warehouse file. Only the nightly job writes it; BI tools read snapshots."""

    path: str

    @property
    def file(self) -> Path:
        return Path(self.path).resolve()

    @contextmanager
    def connect(self, read_only: bool = False):
        self.file.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(self.file), read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()


class LandingZoneResource(dg.ConfigurableResource):
    """Where the raw exports land: one folder per entity, and how the loader reads it."""

    path: str
    settle_seconds: float = 60.0  # a file is complete once unchanged this long (contract 1.1)
    date_min: str = "2000-01-01"  # dates before this are implausible (rejected)
    years_ahead: int = 5  # ... and dates after as-of + this many years
    memory_limit: str = "2GB"
    temp_dir: str = ""  # '' = next to the warehouse

    def load_options(self, warehouse_path: str):
        from orchestration.loading.options import LoadOptions

        temp = self.temp_dir or str(Path(warehouse_path).with_suffix(".load_tmp"))
        return LoadOptions(
            settle_seconds=self.settle_seconds,
            date_min=dt.date.fromisoformat(self.date_min),
            years_ahead=self.years_ahead,
            memory_limit=self.memory_limit or None,
            temp_dir=temp,
        )


def dbt_resource() -> DbtCliResource:
    """dbt through the night's child launcher: dbt dies with the night (PR_SET_PDEATHSIG, see night_guard);
    without dagster-dbt's per-invocation `dbt --version` and adapter (orchestration/dbt_resource.py)."""
    from orchestration.dbt_resource import NightDbtCliResource
    from orchestration.night_guard import DBT_CHILD

    project = str(settings.DBT_PROJECT_DIR)
    return NightDbtCliResource(project_dir=project, profiles_dir=project, dbt_executable=str(DBT_CHILD))


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources of a production run, from the OPSCENTER_* settings (read here, once)."""
    from orchestration.assets.publish import PublishResource

    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path())),
        "landing_zone": LandingZoneResource(
            path=str(settings.raw_dir()),
            settle_seconds=settings.load_settle_seconds(),
            memory_limit=settings.load_memory_limit(),
            temp_dir=settings.load_temp_dir(),
        ),
        "publisher": PublishResource(
            publish_root=str(settings.publish_dir()),
            memory_limit=settings.publish_memory_limit(),
            temp_dir=settings.publish_temp_dir(),
        ),
        "dbt": dbt_resource(),
    }
