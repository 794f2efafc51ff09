"""As-of behaviour of the core models on hand-made raw rows, built once as of 2026-09-30.

The raw rows already hold events after that date (completions, a cancellation, a renewal signed in
November); the models must reconstruct the state on 2026-09-30 as if those had not happened yet.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest

from orchestration import calendar_seed
from orchestration.contract import ENUMS
from tests import dbt_helpers as h

AS_OF = "2026-09-30"
TS = dt.datetime(2026, 9, 30, 20, 0)
D = dt.date.fromisoformat
T = dt.datetime.fromisoformat


def _task(tid, created, due, status, started=None, completed=None, updated=TS, depends_on=None, **kw):
    return h.task_row(tid, "C1", "bookkeeping", due, status, period="2026-08", assignee_id="S1",
                      created_at=created, started_at=started, completed_at=completed,
                      depends_on_task_id=depends_on, updated_at=updated, **kw)  # fmt: skip


def _contract(kid, client, cycle, fee, start, end, prev=None, signed=None):
    return h.contract_row(kid, client, fee, start, end, billing_cycle=cycle, previous_contract_id=prev,
                          signed_date=D(signed) if signed else None, updated_at=TS)  # fmt: skip


def _client(cid, signed):
    return h.client_row(cid, f"客户{cid}", taxpayer_type="general", industry="trade", signed_date=D(signed),
                        updated_at=TS)  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    staff = [("S1", "张", "accountant", "一部", "2024-01-01", None),
             ("S2", "李", "accountant", "二部", "2025-03-01", None),
             ("S3", "王", "sales", "一部", "2024-01-01", "2026-09-01")]  # fmt: skip
    raw = {
        "staff": [h.staff_row(s, n, r, team=t, hire_date=hired, leave_date=left, updated_at=TS)
                  for s, n, r, t, hired, left in staff],
        "clients": [_client("C1", "2025-01-01"), _client("C2", "2025-01-01"), _client("C3", "2026-12-01")],
        "contracts": [
            # K1 ends 2025-12-31, K2 starts 2026-01-20 <= 2026-01-30: renewed within 30 days
            _contract("K1", "C1", "monthly", "500.00", "2025-01-01", "2025-12-31"),
            _contract("K2", "C1", "quarterly", "1500.00", "2026-01-20", "2026-12-31", prev="K1"),
            # K3 renews K2 but is only signed on 2026-11-01, after the as-of date
            _contract("K3", "C1", "annual", "7000.00", "2027-01-01", "2027-12-31", prev="K2",
                      signed="2026-11-01"),
            # K5 starts 2025-08-15 > K4's end 2025-06-30 + 30: renewed, but late
            _contract("K4", "C2", "annual", "12000.00", "2025-01-01", "2025-06-30"),
            _contract("K5", "C2", "one_off", "3000.00", "2025-08-15", "2026-08-14", prev="K4"),
        ],
        "tasks": [
            _task("T1", "2026-09-01 09:00", "2026-09-10", "done", "2026-09-05 10:00", "2026-09-12 18:00",
                  error_count=2, outcome="success"),
            # completed 2026-10-05: on 2026-09-30 it was still in progress and overdue since 09-20
            _task("T2", "2026-09-01 09:00", "2026-09-20", "done", "2026-09-15 10:00", "2026-10-05 11:00",
                  error_count=1),
            # started 10-02: todo on 09-30, waiting on the unfinished T2
            _task("T3", "2026-09-10 09:00", "2026-10-15", "done", "2026-10-02 09:00", "2026-10-08 09:00",
                  depends_on="T2"),
            _task("T4", "2026-10-03 09:00", "2026-10-20", "todo"),  # created after the as-of date
            # cancelled on 10-10 (updated_at): still an overdue todo on 09-30; upstream T1 done
            _task("T5", "2026-08-01 09:00", "2026-08-20", "cancelled", updated=T("2026-10-10 12:00"),
                  depends_on="T1"),
            _task("T6", "2026-08-01 09:00", "2026-08-31", "cancelled", updated=T("2026-09-15 12:00")),
            {**_task("T7", "2026-09-01 09:00", "2026-09-25", "done", "2026-09-18 09:00", "2026-09-20 17:00"),
             "assignee_id": "S2", "stage": "tax_filing"},
        ],
    }  # fmt: skip
    yield from h.read_only_warehouse(
        tmp_path_factory.mktemp("core_models"), AS_OF, ["+path:models/core"], raw
    )


def test_task_state_reconstructed_for_past_as_of(warehouse):
    rows = warehouse.execute(
        "select task_id, status_as_of, is_overdue, days_late, completed_on_time, completed_at is not null,"
        " is_upstream_unfinished, error_count from core.fct_tasks order by task_id"
    ).fetchall()
    assert rows == [
        ("T1", "done", False, 2, False, True, False, 2),  # 09-12 vs due 09-10
        ("T2", "in_progress", True, 10, None, False, False, None),  # 09-30 - 09-20
        ("T3", "todo", False, 0, None, False, True, None),
        ("T5", "todo", True, 41, None, False, False, None),  # 08-20 -> 09-30 = 11 + 30
        ("T6", "cancelled", False, 0, None, False, False, None),
        ("T7", "done", False, 0, True, True, False, None),
    ]  # T4 was created after the as-of date
    t7 = warehouse.execute(
        "select assignee_team, stage_cn, status_as_of_cn from core.fct_tasks where task_id = 'T7'"
    ).fetchone()
    assert t7 == ("二部", "报税", "已完成")


def test_contract_renewals_as_of(warehouse):
    rows = warehouse.execute(
        "select contract_id, state_as_of, renewed_by_contract_id, renewed_within_30d, renewal_count,"
        " annualized_value, term_months from core.dim_contracts order by contract_id"
    ).fetchall()
    assert rows == [
        ("K1", "expired", "K2", True, 0, Decimal("6000.00"), 12),  # 500 x 12
        ("K2", "active", None, False, 1, Decimal("6000.00"), 11),  # 1500 x 4; K3 not signed yet
        ("K3", "not_signed", None, False, 2, Decimal("7000.00"), 12),
        ("K4", "expired", "K5", False, 0, Decimal("12000.00"), 6),
        ("K5", "expired", None, False, 1, Decimal("3000.00"), 12),  # one-off counts once
    ]
    clients = warehouse.execute(
        "select client_id, status_as_of, contracts_in_force, annualized_value_in_force"
        " from core.dim_clients order by client_id"
    ).fetchall()
    assert clients == [
        ("C1", "active", 1, Decimal("6000.00")),
        ("C2", "churned", 0, Decimal("0.00")),
        ("C3", "not_signed", 0, Decimal("0.00")),
    ]
    staff = warehouse.execute("select staff_id, is_active from core.dim_staff order by staff_id").fetchall()
    assert staff == [("S1", True), ("S2", True), ("S3", False)]


def test_dim_date_chinese_workdays(warehouse):
    rows = warehouse.execute(
        "select date_day, is_workday, is_makeup_workday, holiday_name, workday_of_month, calendar_source"
        " from core.dim_date where date_day in"
        " ('2024-10-07', '2024-10-08', '2024-10-12', '2024-10-13', '2027-01-01', '2027-01-02')"
        " order by date_day"
    ).fetchall()
    assert rows == [
        (D("2024-10-07"), False, False, "国庆节", None, "cn_calendar"),  # last day of the holiday
        (D("2024-10-08"), True, False, None, 1, "cn_calendar"),  # first workday of October 2024
        (D("2024-10-12"), True, True, "国庆节", 5, "cn_calendar"),  # Saturday make-up day (10-08..12)
        (D("2024-10-13"), False, False, None, None, "cn_calendar"),
        (D("2027-01-01"), True, False, None, 1, "weekday_rule"),  # beyond the seed: Mon-Fri rule
        (D("2027-01-02"), False, False, None, None, "weekday_rule"),
    ]
    # spine: 1 January of the first year with data (S1 and S3 hired 2024-01-01) .. as_of + 400 days
    assert warehouse.execute("select min(date_day), max(date_day) from core.dim_date").fetchone() == (
        D("2024-01-01"),
        D("2027-11-04"),
    )


def test_dbt_refuses_to_run_without_as_of_date(tmp_path):
    with pytest.raises(h.DbtRunError, match="as_of_date' is required"):
        h.run_dbt(["compile", "--select", "dim_staff"], tmp_path / "w.duckdb", None, tmp_path / "target")


def test_committed_seeds_match_their_generators():
    with calendar_seed.DEFAULT_OUT.open(encoding="utf-8") as f:
        assert list(csv.DictReader(f)) == calendar_seed.calendar_rows()
    with calendar_seed.ENUM_LABELS_OUT.open(encoding="utf-8") as f:
        labels = {(r["enum_name"], r["code"]): r["label_cn"] for r in csv.DictReader(f)}
    assert labels == {(e, code): label for e, codes in ENUMS.items() for code, label in codes.items()}
