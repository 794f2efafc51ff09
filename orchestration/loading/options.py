"""Settings of one load: settle window, plausible date range, DuckDB memory and temp storage."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from orchestration.contract import ENTITIES, ENUM_EXTRA_LABELS, ENUMS

# Files loaded under other rules are re-read: bump LOADER_RULES when a parsing or validation rule
# changes; any change to the contract's columns, aliases or enums changes the fingerprint by itself.
LOADER_RULES = "loader-2"
_CONTRACT = hashlib.sha256(repr((ENTITIES, ENUMS, ENUM_EXTRA_LABELS)).encode()).hexdigest()[:12]
RULES_VERSION = f"{LOADER_RULES}/contract-{_CONTRACT}"


@dataclass(frozen=True)
class DateBounds:
    """Dates (and timestamps, periods) outside [lower, upper] are rejected as implausible."""

    lower: dt.date
    upper: dt.date


@dataclass(frozen=True)
class LoadOptions:
    settle_seconds: float = 60.0  # a file is complete when unchanged this long (or has its .done marker)
    date_min: dt.date = dt.date(2000, 1, 1)
    years_ahead: int = 5  # upper date bound = as_of + this many years
    memory_limit: str | None = None  # DuckDB memory_limit during the load, e.g. '2GB'; None: DuckDB's
    temp_dir: str | None = None  # DuckDB temp_directory and transcoded copies; None: DuckDB's / system's
    chunk_bytes: int = 1 << 20  # read/transcode buffer: the loader never holds a whole file in Python

    def bounds(self, as_of: dt.date) -> DateBounds:
        return DateBounds(self.date_min, add_years(as_of, self.years_ahead))


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
