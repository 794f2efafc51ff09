"""Monthly tax filing deadlines (申报纳税期限) for the demo timeline, the same ones the warehouse uses.

Official dates come from the dbt seed `cn_tax_deadlines` (State Taxation Administration notices, with
their sources); other months follow the SAT rule in `orchestration.tax_calendar` (long-holiday
extensions included).
"""

from __future__ import annotations

import csv
from datetime import date
from functools import cache
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR
from orchestration.tax_calendar import rule_deadline

OFFICIAL_SEED = DBT_PROJECT_DIR / "seeds" / "cn_tax_deadlines.csv"


@cache
def official_deadlines(path: Path = OFFICIAL_SEED) -> dict[tuple[int, int], date]:
    """(year, month) -> the published deadline, from the seed."""
    with path.open(encoding="utf-8", newline="") as fh:
        return {
            (int(row["year"]), int(row["month"])): date.fromisoformat(row["deadline"])
            for row in csv.DictReader(fh)
        }


@cache
def filing_deadline(year: int, month: int) -> date:
    """Last day to file the returns due in (year, month)."""
    return official_deadlines().get((year, month)) or rule_deadline(year, month)
