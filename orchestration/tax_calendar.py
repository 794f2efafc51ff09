"""Monthly tax-filing deadlines (征期) by the State Taxation Administration's rule.

Official dates are published a year at a time (seed `cn_tax_deadlines`). For months without an
official row the pipeline uses the rule the SAT applies, computed on the Chinese working-day
calendar (`chinesecalendar`, which knows statutory holidays and make-up working weekends):

- N = days 1–15 of the month that are days off belonging to a run of ≥ 3 consecutive days off
  containing a statutory holiday (weekend days inside such a run count);
- N ≥ 3: the deadline is the N-th working day after the 15th;
- otherwise the 15th, moved to the next working day when it is a day off.

`python -m orchestration.tax_calendar` writes the rule's dates as the dbt seed
`cn_tax_deadline_rule.csv`; dbt prefers the official date where one exists.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import chinese_calendar

from orchestration import settings

ONE_DAY = dt.timedelta(days=1)
SEED_PATH = settings.DBT_PROJECT_DIR / "seeds" / "cn_tax_deadline_rule.csv"
FIRST_YEAR, LAST_YEAR = 2020, 2027


def _calendar_known(day: dt.date) -> bool:
    try:
        chinese_calendar.is_workday(day)
        return True
    except NotImplementedError:
        return False


def is_day_off(day: dt.date) -> bool:
    """Statutory calendar where known; beyond it, weekends only (the deadline is then an estimate)."""
    if _calendar_known(day):
        return not chinese_calendar.is_workday(day)
    return day.weekday() >= 5


def _is_statutory_holiday(day: dt.date) -> bool:
    if not _calendar_known(day):
        return False
    on_holiday, name = chinese_calendar.get_holiday_detail(day)
    return bool(on_holiday and name)


def _off_run(day: dt.date) -> tuple[dt.date, dt.date]:
    start, end = day, day
    while is_day_off(start - ONE_DAY):
        start -= ONE_DAY
    while is_day_off(end + ONE_DAY):
        end += ONE_DAY
    return start, end


def holiday_days_in_first_half(year: int, month: int) -> int:
    """N of the rule: days off on the 1st–15th inside a ≥3-day run that holds a statutory holiday."""
    n = 0
    for day_of_month in range(1, 16):
        day = dt.date(year, month, day_of_month)
        if not is_day_off(day):
            continue
        start, end = _off_run(day)
        length = (end - start).days + 1
        if length >= 3 and any(_is_statutory_holiday(start + i * ONE_DAY) for i in range(length)):
            n += 1
    return n


def rule_deadline(year: int, month: int) -> dt.date:
    n = holiday_days_in_first_half(year, month)
    day = dt.date(year, month, 15)
    if n >= 3:
        worked = 0
        while worked < n:
            day += ONE_DAY
            if not is_day_off(day):
                worked += 1
        return day
    while is_day_off(day):
        day += ONE_DAY
    return day


def write_seed(path: Path = SEED_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["year", "month", "deadline", "holiday_days_first_half", "calendar_known"])
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            for month in range(1, 13):
                out.writerow(
                    [
                        year,
                        month,
                        rule_deadline(year, month).isoformat(),
                        holiday_days_in_first_half(year, month),
                        str(_calendar_known(dt.date(year, month, 1))).lower(),
                    ]
                )


if __name__ == "__main__":
    write_seed(Path(sys.argv[1]) if len(sys.argv) > 1 else SEED_PATH)
    print(f"wrote {SEED_PATH}")
