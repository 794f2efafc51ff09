"""Small date helpers shared by the simulation."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta


def month_idx(d: date) -> int:
    return d.year * 12 + d.month - 1


def month_first(idx: int) -> date:
    return date(idx // 12, idx % 12 + 1, 1)


def period(idx: int) -> str:
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def add_months(d: date, k: int) -> date:
    idx = month_idx(d) + k
    y, m = idx // 12, idx % 12 + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def at(d: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute, second))


def days(n: int) -> timedelta:
    return timedelta(days=n)
