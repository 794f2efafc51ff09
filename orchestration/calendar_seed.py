"""Generate the dbt reference seeds: `cn_calendar` (mainland China workdays, from `chinesecalendar`) and
`contract_enum_labels` (enum code -> Chinese label, from orchestration/contract.py).

Run `uv run python -m orchestration.calendar_seed`; the CSVs are committed so dbt never needs Python.
`chinesecalendar` only knows the State Council schedules it ships (to 2026), so the range stops there;
`dim_date` falls back to the weekday rule beyond it.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

import chinese_calendar

from orchestration.contract import ENUMS
from orchestration.settings import DBT_PROJECT_DIR

DEFAULT_START = dt.date(2020, 1, 1)
DEFAULT_END = dt.date(2026, 12, 31)
DEFAULT_OUT = DBT_PROJECT_DIR / "seeds" / "cn_calendar.csv"
ENUM_LABELS_OUT = DBT_PROJECT_DIR / "seeds" / "contract_enum_labels.csv"
COLUMNS = ["date", "is_workday", "is_holiday", "is_makeup_workday", "holiday_name"]


def _holiday_label(name: str | None) -> str:
    """Chinese name of a chinesecalendar holiday (it reports the English one)."""
    if not name:
        return ""
    for holiday in chinese_calendar.Holiday:
        if holiday.value == name:
            return holiday.chinese
    return name


def calendar_rows(start: dt.date = DEFAULT_START, end: dt.date = DEFAULT_END) -> list[dict[str, str]]:
    rows = []
    day = start
    while day <= end:
        is_workday = chinese_calendar.is_workday(day)
        # is_holiday = statutory holiday (not an ordinary weekend); make-up day = weekend turned workday.
        is_holiday = day in chinese_calendar.holidays
        is_makeup = day in chinese_calendar.workdays and day.weekday() >= 5
        name = chinese_calendar.holidays.get(day) or (
            chinese_calendar.workdays.get(day) if is_makeup else None
        )
        rows.append(
            {
                "date": day.isoformat(),
                "is_workday": str(is_workday).lower(),
                "is_holiday": str(is_holiday).lower(),
                "is_makeup_workday": str(is_makeup).lower(),
                "holiday_name": _holiday_label(name),
            }
        )
        day += dt.timedelta(days=1)
    return rows


def write_seed(path: Path = DEFAULT_OUT, start: dt.date = DEFAULT_START, end: dt.date = DEFAULT_END) -> int:
    rows = calendar_rows(start, end)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def enum_label_rows() -> list[dict[str, str]]:
    return [
        {"enum_name": enum, "code": code, "label_cn": label}
        for enum, labels in ENUMS.items()
        for code, label in labels.items()
    ]


def write_enum_labels(path: Path = ENUM_LABELS_OUT) -> int:
    rows = enum_label_rows()
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["enum_name", "code", "label_cn"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=DEFAULT_END)
    args = parser.parse_args()
    n = write_seed(args.out, args.start, args.end)
    print(f"wrote {n} days to {args.out}")
    n = write_enum_labels()
    print(f"wrote {n} enum labels to {ENUM_LABELS_OUT}")


if __name__ == "__main__":
    main()
