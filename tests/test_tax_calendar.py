"""The SAT deadline rule must reproduce every official 2022–2025 filing deadline."""

import csv
import datetime as dt

import pytest

from orchestration import settings
from orchestration.tax_calendar import holiday_days_in_first_half, rule_deadline

OFFICIAL = settings.DBT_PROJECT_DIR / "seeds" / "cn_tax_deadlines.csv"


def official_rows():
    with OFFICIAL.open(encoding="utf-8") as fh:
        return [(int(r["year"]), int(r["month"]), r["deadline"]) for r in csv.DictReader(fh)]


def test_official_seed_has_all_48_months():
    rows = official_rows()
    assert len(rows) == 48
    assert {(y, m) for y, m, _ in rows} == {(y, m) for y in range(2022, 2026) for m in range(1, 13)}


@pytest.mark.parametrize(("year", "month", "deadline"), official_rows())
def test_rule_reproduces_official_deadline(year, month, deadline):
    assert rule_deadline(year, month).isoformat() == deadline


def test_rule_examples_by_hand():
    # October 2022: National Day 1–7 (7 days) → 7th working day after the 15th (a Saturday) = 25th.
    assert holiday_days_in_first_half(2022, 10) == 7
    assert rule_deadline(2022, 10) == dt.date(2022, 10, 25)
    # March 2025: no holiday; the 15th is a Saturday → Monday the 17th.
    assert holiday_days_in_first_half(2025, 3) == 0
    assert rule_deadline(2025, 3) == dt.date(2025, 3, 17)
