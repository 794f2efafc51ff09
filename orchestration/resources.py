"""Dagster resources: the working warehouse and the landing zone, configured not global."""

from __future__ import annotations

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
    """Where the raw exports land: one folder per entity."""

    path: str = str(settings.raw_dir())
