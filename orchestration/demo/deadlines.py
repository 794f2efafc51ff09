"""Monthly tax filing deadlines (申报纳税期限) and working days for the demo timeline.

2022–2025 use the official dates published by the State Taxation Administration (copied here so the
repo does not depend on anything outside it). Other months use the SAT rule implemented in
`orchestration.tax_calendar` (long-holiday extensions included), the same one the warehouse uses.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import chinese_calendar

from orchestration.tax_calendar import rule_deadline

# (year, month) -> day of the month. Source: SAT notices on the yearly filing calendar
# (e.g. 税总办征科函〔2021〕201号 for 2022), as collected in the project's research notes.
_OFFICIAL_DAYS = {
    2022: (19, 23, 15, 20, 19, 20, 15, 15, 20, 25, 15, 15),
    2023: (16, 15, 15, 17, 18, 15, 17, 15, 15, 23, 15, 15),
    2024: (15, 23, 15, 18, 22, 19, 15, 15, 18, 24, 15, 16),
    2025: (15, 20, 17, 18, 22, 16, 15, 15, 15, 27, 17, 15),
}


@cache
def is_workday(d: date) -> bool:
    try:
        return chinese_calendar.is_workday(d)
    except NotImplementedError:  # outside the package's data: weekends only
        return d.weekday() < 5


def next_workday(d: date) -> date:
    while not is_workday(d):
        d += timedelta(days=1)
    return d


@cache
def filing_deadline(year: int, month: int) -> date:
    """Last day to file the returns due in (year, month)."""
    days = _OFFICIAL_DAYS.get(year)
    if days:
        return date(year, month, days[month - 1])
    return rule_deadline(year, month)
