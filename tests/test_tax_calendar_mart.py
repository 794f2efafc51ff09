"""征期日历 marts on a hand-made firm as of 2026-10-22.

2026 has no official SAT calendar in the seed, so its deadlines come from the rule: October 2026's
National Day run covers Oct 1-7 (7 holiday days on the 1st-15th), so the deadline is the 7th working
day after the 15th: Oct 16, 19, 20, 21, 22, 23, 26 → 2026-10-26. 2025 months use the official dates.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.dbt_helpers import accountant_row, client_row, read_only_warehouse, task_row

AS_OF = "2026-10-22"
TS = dt.datetime(2026, 10, 22, 20, 0)
D = dt.date.fromisoformat


def _filing(tid, client, period, due, status, started=None, completed=None):
    return task_row(tid, client, "tax_filing", due, status, period=period, assignee_id="S1",
                    created_at=f"{due[:8]}01 08:00", started_at=started, completed_at=completed,
                    updated_at=TS)  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    raw = {
        "staff": [accountant_row(updated_at=TS)],
        "clients": [client_row(c, f"客户{c}", taxpayer_type="general", industry="trade",
                               signed_date=D("2025-01-01"), updated_at=TS)
                    for c in ("C1", "C2", "C3", "C4", "C5")],
        "tasks": [
            # period 2026-09 → filed in October, deadline 2026-10-26; 3 working days left (22, 23, 26)
            _filing("F1", "C1", "2026-09", "2026-10-26", "todo"),
            _filing("F2", "C2", "2026-09", "2026-10-26", "done", "2026-10-19 09:00", "2026-10-20 10:00"),
            # period 2026-08 → deadline 2026-09-15 (rule: no holiday run, the 15th is a Tuesday)
            _filing("F3", "C3", "2026-08", "2026-09-15", "done", "2026-09-14 09:00", "2026-09-16 10:00"),
            _filing("F4", "C4", "2026-08", "2026-09-15", "todo"),
            # completed after the as-of date: in progress on 2026-10-22, 3 working days left → at risk
            _filing("F5", "C5", "2026-09", "2026-10-26", "done", "2026-10-21 09:00", "2026-10-23 10:00"),
            # period 2025-09 → official 2025-10 deadline 2025-10-27, filed 10-27: on time
            _filing("F6", "C1", "2025-09", "2025-10-27", "done", "2025-10-27 09:00", "2025-10-27 10:00"),
        ],
    }  # fmt: skip
    select = ["+mart_tax_calendar", "+mart_tax_filing_status"]
    yield from read_only_warehouse(tmp_path_factory.mktemp("tax_marts"), AS_OF, select, raw)


def test_calendar_official_where_published_rule_otherwise(warehouse):
    rows = dict(
        (p, (d, s, left, wd))
        for p, d, s, left, wd in warehouse.execute(
            "select period, deadline, deadline_source, days_remaining, working_days_remaining"
            " from marts.mart_tax_calendar"
        ).fetchall()
    )
    # from the first year with data (clients signed 2025-01-01) to the as-of month + 3
    assert min(rows) == "2025-01" and max(rows) == "2027-01"
    assert len(rows) == 12 * 2 + 1
    assert rows["2025-10"][:2] == (D("2025-10-27"), "official")
    assert rows["2025-01"][:2] == (D("2025-01-15"), "official")
    assert rows["2026-10"] == (D("2026-10-26"), "rule", 4, 3)
    assert rows["2026-09"][:2] == (D("2026-09-15"), "rule")
    assert all(src == "official" for p, (_, src, _, _) in rows.items() if p < "2026-01")
    assert all(src == "rule" for p, (_, src, _, _) in rows.items() if p >= "2026-01")


def test_filing_status_judged_against_deadline(warehouse):
    rows = {
        r[0]: r[1:]
        for r in warehouse.execute(
            "select task_id, filing_period, deadline, filing_status, working_days_left"
            " from marts.mart_tax_filing_status"
        ).fetchall()
    }
    assert rows == {
        "F1": ("2026-10", D("2026-10-26"), "at_risk", 3),
        "F2": ("2026-10", D("2026-10-26"), "filed_on_time", 3),
        "F3": ("2026-09", D("2026-09-15"), "filed_late", 0),
        "F4": ("2026-09", D("2026-09-15"), "overdue", 0),
        "F5": ("2026-10", D("2026-10-26"), "at_risk", 3),
        "F6": ("2025-10", D("2025-10-27"), "filed_on_time", 0),
    }
