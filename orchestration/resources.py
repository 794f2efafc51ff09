"""Dagster resources: the working warehouse, the landing zone and dbt, configured not global.

`default_resources()` reads the settings once, when the Definitions are built; assets get every path from
their resources (tests pass their own), never from the environment.
"""

from __future__ import annotations

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
    """Where the raw exports land: one folder per entity."""

    path: str


def dbt_resource() -> DbtCliResource:
    project = str(settings.DBT_PROJECT_DIR)
    return DbtCliResource(project_dir=project, profiles_dir=project)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources of a production run, from the OPSCENTER_* settings (read here, once)."""
    from orchestration.assets.publish import PublishResource

    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path())),
        "landing_zone": LandingZoneResource(path=str(settings.raw_dir())),
        "publisher": PublishResource(publish_root=str(settings.publish_dir())),
        "dbt": dbt_resource(),
    }
