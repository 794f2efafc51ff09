"""Dagster resources: the working warehouse and the landing zone, configured not global."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import settings


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB warehouse file. Only the nightly job writes it; BI tools read snapshots."""

    path: str = str(settings.warehouse_path())

    @contextmanager
    def connect(self, read_only: bool = False):
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(self.path, read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()


class LandingZoneResource(dg.ConfigurableResource):
    """Where the raw exports land: one folder per entity, and how the loader reads it."""

    path: str = str(settings.raw_dir())
    settle_seconds: float = settings.load_settle_seconds()
    date_min: str = "2000-01-01"  # dates before this are implausible (rejected)
    years_ahead: int = 5  # ... and dates after as-of + this many years
    memory_limit: str = settings.load_memory_limit()
    temp_dir: str = settings.load_temp_dir()

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
