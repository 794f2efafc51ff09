"""Renewal and workload marts on a hand-made firm, built once by the real dbt project as of 2026-09-30.

Every expected number below is worked out by hand in the comments.

Renewals (contracts monthly-billed bookkeeping unless noted; annualized = fee x 12):
  K1 C01 500/m  2025-11-01..2026-10-31 -> 6000, ends in 31 days, not renewed
  K2 C02 200/m  2025-12-16..2026-12-15 -> 2400, ends in 76 days; C02 complained on 2026-05-10
  K3 C03 300/m  2025-11-21..2026-11-20 -> 3600, ends in 51 days, no feedback, no invoices
  K4 C04 800/m  2026-04-01..2027-03-31 -> 9600, ends in 182 days: outside the 90-day window
  R1 C05 ends 2026-08-31, R1b (100/m) starts 2026-09-01           -> renewed within 30 days
  R2 C06 ends 2026-08-15, no successor, window closed 09-14        -> ended, not renewed
  R3 C07 ends 2026-08-31, no successor, window open until 09-30   -> pending (outside the rate)
  R4 C08 ends 2026-08-10, R4b (100/m) starts 2026-09-20 > 09-09   -> ended, renewed late
  R5 C09 one-off registration ending 2026-08-20                  -> not a renewable contract
  In force on 09-30: K1 6000, K2 2400, K3 3600, K4 9600, R1b 1200, R4b 1200.
  75th percentile (continuous): sorted 1200 1200 2400 3600 6000 9600, position 5 x 0.75 = 3.75
  -> 3600 + 0.75 x (6000 - 3600) = 5400. K1 6000 >= 5400 and no churn signal -> high_value;
  K2 complaint -> churn_risk; K3 3600 < 5400 -> potential.
  C01 feedback: 4 and 5 in the last 12 months (-> 4.5); a complaint on 2025-08-01 is older than 12 months.
  C02 invoice due 2026-06-16, unpaid -> 106 days late (2026-09-30 - 06-16), overdue share 1.0.
  Renewal rate 2026-08 (firm, bookkeeping): ended R1, R2, R4 = 3, renewed R1 = 1 -> 1/3; R3 pending.

Workload (accountants A1 A2 A3 in team 一部, B1 in 二部 with monthly_capacity 3; field agent F1 in 一部):
  Bookkeeping for period 2026-08 is due 2026-09-15.
  A1: bookkeeping C01..C04 done 09-10, 09-11, 09-12, 09-20 with errors 0, 1, 2, 0; C05 in progress;
      tax filing C01 done 09-14 success, C02 done 09-16 failed; August: bookkeeping C01 (period 07,
      due 08-15) done 08-10 with 0 errors.
      -> September: 6 completed, 4 on time (09-10, 11, 12, 14), error rate 3 / 4 = 0.75,
         filing success 1 / 2, clients served C01..C04 = 4.
  A2: bookkeeping C06, C07 done 09-14, and a second, open bookkeeping task of C06's 2026-08 (one
      client-period: A2's load stays 2); A3: C08, C09 done 09-14 (1 error each);
  B1: C10..C13 done 09-14; F1: document collection C01..C03 done 09-05.
  September ranks by tasks completed: A1 6 -> 1, B1 4 -> 2, F1 3 -> 3, A2 2 and A3 2 -> 4 (shared).
  Saturation September (load = bookkeeping client-periods due in the month):
      一部 loads A1 5 (C05 in progress still counts), A2 2, A3 2 -> team median 2, x 1.3 = 2.6:
      A1 5 > 2.6 saturated (capacity 2.6 from the team median); A2 not.
      B1 load 4 > capacity 3 -> saturated, though alone in 二部 it is not over its own median.
      A1's other unsaturated month is August (load 1, alone -> median 1): baseline 0 / 1 = 0,
      quality change 0.75 - 0 = 0.75.
  Clients per accountant on 2026-09-30: clients with a contract in force C01 C02 C03 C04 C05 C08 = 6,
      accountants 4 -> 1.5.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests import dbt_helpers as h

AS_OF = "2026-09-30"
TS = dt.datetime(2026, 9, 30, 20, 0)
D = dt.date.fromisoformat

INDUSTRY = {"C05": "trade", "C06": "tech"}


def _client(cid):
    industry = INDUSTRY.get(cid, "services")
    return h.client_row(cid, f"客户{cid}", industry=industry, signed_date=D("2025-01-01"), accountant_id="A1",
                        updated_at=TS)  # fmt: skip


def _contract(kid, client, fee, start, end, prev=None, signed=None, **fields):
    return h.contract_row(kid, client, fee, start, end, previous_contract_id=prev,
                          signed_date=D(signed) if signed else None, updated_at=TS, **fields)  # fmt: skip


def _task(tid, who, client, stage, period, due, completed=None, errors=None, outcome=None):
    return h.task_row(tid, client, stage, due, "done" if completed else "in_progress", period=period,
                      assignee_id=who, created_at="2026-08-01 09:00", started_at="2026-08-02 09:00",
                      completed_at=completed and completed + " 17:00", error_count=errors, outcome=outcome,
                      updated_at=TS)  # fmt: skip


def _staff(sid, role, team, capacity=None):
    return h.staff_row(sid, f"员工{sid}", role, team=team, monthly_capacity=capacity, updated_at=TS)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    raw = {
        "staff": [_staff("A1", "accountant", "一部"), _staff("A2", "accountant", "一部"),
                  _staff("A3", "accountant", "一部"), _staff("B1", "accountant", "二部", 3),
                  _staff("F1", "field_agent", "一部")],
        "clients": [_client(f"C{n:02d}") for n in range(1, 14)],
        "contracts": [
            _contract("K1", "C01", "500", "2025-11-01", "2026-10-31"),
            _contract("K2", "C02", "200", "2025-12-16", "2026-12-15"),
            _contract("K3", "C03", "300", "2025-11-21", "2026-11-20"),
            _contract("K4", "C04", "800", "2026-04-01", "2027-03-31"),
            _contract("R1", "C05", "100", "2025-09-01", "2026-08-31"),
            _contract("R1b", "C05", "100", "2026-09-01", "2027-08-31", prev="R1", signed="2026-08-25"),
            _contract("R2", "C06", "100", "2025-08-16", "2026-08-15"),
            _contract("R3", "C07", "100", "2025-09-01", "2026-08-31"),
            _contract("R4", "C08", "100", "2025-08-11", "2026-08-10"),
            _contract("R4b", "C08", "100", "2026-09-20", "2027-09-19", prev="R4"),
            _contract("R5", "C09", "900", "2026-07-01", "2026-08-20", billing_cycle="one_off",
                      service_type="registration"),
        ],
        "invoices": [
            h.invoice_row("I1", "C01", "2026-08-01", "2026-08-16", "500", contract_id="K1", status="paid",
                          updated_at=TS),
            h.invoice_row("I2", "C02", "2026-06-01", "2026-06-16", "200", contract_id="K2", updated_at=TS),
        ],
        "payments": [h.payment_row("P1", "2026-08-10", "500", client_id="C01", invoice_id="I1",
                                   channel="wechat", updated_at=TS)],
        "feedback": [
            h.feedback_row("F1", "C01", "2026-03-01", 4, updated_at=TS),
            h.feedback_row("F2", "C01", "2026-06-01", 5, updated_at=TS),
            h.feedback_row("F3", "C01", "2025-08-01", 1, is_complaint=True, updated_at=TS),
            h.feedback_row("F4", "C02", "2026-05-10", 4, is_complaint=True, updated_at=TS),
        ],
    }  # fmt: skip
    bk, due = "bookkeeping", "2026-09-15"
    tasks = [
        _task("TA1", "A1", "C01", bk, "2026-08", due, "2026-09-10", errors=0),
        _task("TA2", "A1", "C02", bk, "2026-08", due, "2026-09-11", errors=1),
        _task("TA3", "A1", "C03", bk, "2026-08", due, "2026-09-12", errors=2),
        _task("TA4", "A1", "C04", bk, "2026-08", due, "2026-09-20", errors=0),
        _task("TA5", "A1", "C05", bk, "2026-08", due),  # still in progress
        _task("TA6", "A1", "C01", "tax_filing", "2026-08", due, "2026-09-14", outcome="success"),
        _task("TA7", "A1", "C02", "tax_filing", "2026-08", due, "2026-09-16", outcome="failed"),
        _task("TA8", "A1", "C01", bk, "2026-07", "2026-08-15", "2026-08-10", errors=0),
        _task("TB1", "A2", "C06", bk, "2026-08", due, "2026-09-14", errors=0),
        _task("TB2", "A2", "C07", bk, "2026-08", due, "2026-09-14", errors=0),
        _task("TB3", "A2", "C06", bk, "2026-08", due),  # a second open task of the same client-period
        _task("TC1", "A3", "C08", bk, "2026-08", due, "2026-09-14", errors=1),
        _task("TC2", "A3", "C09", bk, "2026-08", due, "2026-09-14", errors=1),
        *[_task(f"TD{n}", "B1", f"C{n:02d}", bk, "2026-08", due, "2026-09-14", errors=0)
          for n in range(10, 14)],
        *[_task(f"TF{n}", "F1", f"C{n:02d}", "document_collection", "2026-08", "2026-09-05", "2026-09-05")
          for n in range(1, 4)],
    ]  # fmt: skip
    # one build of everything the two report folders need, with every dbt test on the way
    select = ["+path:models/marts/renewals", "+path:models/marts/workload"]
    yield from h.read_only_warehouse(
        tmp_path_factory.mktemp("marts_renewals_workload"), AS_OF, select, {**raw, "tasks": tasks}
    )


def test_upcoming_renewal_segments(warehouse):
    rows = warehouse.execute(
        "select contract_id, days_to_end, annualized_value, high_value_threshold, satisfaction_score,"
        " complaint_count, segment, segment_cn, segment_sort from marts.mart_renewals_upcoming"
        " order by contract_id"
    ).fetchall()
    quantile = 3600 + 0.75 * (6000 - 3600)  # see the module docstring
    # segment_sort: the list's display order, most urgent first (churn risk 1, high value 2, potential 3)
    assert rows == [
        ("K1", 31, Decimal("6000.00"), Decimal(f"{quantile:.2f}"), 4.5, 0, "high_value", "高价值", 2),
        ("K2", 76, Decimal("2400.00"), Decimal(f"{quantile:.2f}"), 4.0, 1, "churn_risk", "流失风险", 1),
        ("K3", 51, Decimal("3600.00"), Decimal(f"{quantile:.2f}"), None, 0, "potential", "潜力", 3),
    ]  # K4 ends after the window
    k2 = warehouse.execute(
        "select avg_days_late, overdue_share, outstanding_amount, renewal_probability"
        " from marts.mart_renewals_upcoming where contract_id = 'K2'"
    ).fetchone()
    assert k2 == ((dt.date(2026, 9, 30) - dt.date(2026, 6, 16)).days, 1.0, Decimal("200.00"), None)


def test_upcoming_renewal_summary_per_segment(warehouse):
    # K1 high value 6000 (C01 paid its bill), K2 churn risk 2400 (C02 owes 200), K3 potential 3600;
    # no model scores in this firm, so no average probability
    rows = warehouse.execute(
        "select segment, segment_cn, segment_sort, contracts, annualized_value, annualized_value_wan,"
        " outstanding_amount, scored_contracts, avg_renewal_probability, window_days"
        " from marts.mart_renewals_upcoming_summary order by segment_sort"
    ).fetchall()
    # window_days: the dbt var renewal_window_days (default 90: K4, 182 days away, is outside)
    assert rows == [
        ("all", "全部", 0, 3, Decimal("12000.00"), 1.2, Decimal("200.00"), 0, None, 90),
        ("churn_risk", "流失风险", 1, 1, Decimal("2400.00"), 0.24, Decimal("200.00"), 0, None, 90),
        ("high_value", "高价值", 2, 1, Decimal("6000.00"), 0.6, Decimal("0.00"), 0, None, 90),
        ("potential", "潜力", 3, 1, Decimal("3600.00"), 0.36, Decimal("0.00"), 0, None, 90),
    ]


def test_monthly_renewal_rate(warehouse):
    firm = warehouse.execute(
        "select contracts_ended, contracts_renewed, contracts_pending, renewal_rate"
        " from marts.mart_renewal_rate_firm_monthly where period = '2026-08'"
    ).fetchone()
    assert firm[:3] == (3, 1, 1)
    assert firm[3] == pytest.approx(1 / 3)
    by_industry = warehouse.execute(
        "select industry, industry_cn, contracts_ended, contracts_renewed"
        " from marts.mart_renewal_rate_monthly"
        " where period = '2026-08' and scope = 'industry' order by industry"
    ).fetchall()
    # R1 C05 trade renewed; R2 C06 tech not; R4 C08 services not (R3 C07 services pending)
    assert by_industry == [("services", "服务", 1, 0), ("tech", "科技", 1, 0), ("trade", "商贸", 1, 1)]


def test_staff_month_workload(warehouse):
    rows = warehouse.execute(
        "select staff_id, tasks_completed, completed_bookkeeping, clients_served, rank_in_team, rank_in_firm,"
        " error_rate, filing_success_rate, on_time_rate from marts.mart_workload_staff_period"
        " where period_grain = 'month' and period_start = '2026-09-01' order by staff_id"
    ).fetchall()
    assert rows == [
        ("A1", 6, 4, 4, 1, 1, 3 / 4, 1 / 2, 4 / 6),
        ("A2", 2, 2, 2, 3, 4, 0.0, None, 1.0),
        ("A3", 2, 2, 2, 3, 4, 1.0, None, 1.0),
        ("B1", 4, 4, 4, 1, 2, 0.0, None, 1.0),
        ("F1", 3, 0, 3, 2, 3, None, None, 1.0),
    ]
    # A1's week of 2026-09-07 (Mon) .. 09-13: bookkeeping 09-10, 09-11, 09-12
    week = warehouse.execute(
        "select period_label, tasks_completed from marts.mart_workload_staff_period"
        " where period_grain = 'week' and staff_id = 'A1' and period_start = '2026-09-07'"
    ).fetchone()
    assert week == ("2026-W37", 3)


def test_saturation_flags(warehouse):
    rows = warehouse.execute(
        "select staff_id, load_client_periods, team_median_load, capacity, capacity_source,"
        " is_over_capacity, is_over_team_median, is_saturated"
        " from marts.mart_workload_saturation where period = '2026-09' order by staff_id"
    ).fetchall()
    assert rows == [
        ("A1", 5, 2.0, pytest.approx(2.6), "team_median", True, True, True),
        ("A2", 2, 2.0, pytest.approx(2.6), "team_median", False, False, False),
        ("A3", 2, 2.0, pytest.approx(2.6), "team_median", False, False, False),
        ("B1", 4, 4.0, 3.0, "monthly_capacity", True, False, True),
    ]
    quality = warehouse.execute(
        "select error_rate, baseline_error_rate, error_rate_change from marts.mart_workload_saturation"
        " where period = '2026-09' and staff_id = 'A1'"
    ).fetchone()
    assert quality == (0.75, 0.0, 0.75)
    firm = warehouse.execute(
        "select active_clients, accountants, clients_per_accountant, saturated_accountants"
        " from marts.mart_workload_firm_monthly where period = '2026-09'"
    ).fetchone()
    assert firm == (6, 4, 1.5, 2)
