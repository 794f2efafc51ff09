"""Run configuration shared by the nightly assets: the as-of date every number is computed for."""

from __future__ import annotations

import datetime as dt

import dagster as dg


class AsOfConfig(dg.Config):
    """`as_of_date` (YYYY-MM-DD). The schedule passes the night's logical date; manual runs must set it."""

    as_of_date: str

    def as_date(self) -> dt.date:
        return dt.date.fromisoformat(self.as_of_date)
