"""驾驶舱 marts on a hand-made firm, as of 2026-03-31; every number worked out by hand below.

Staff S1 (team 甲组), S2 (team 乙组); clients C1 (tech, S1), C2 (trade, S2).
Contracts signed in March: K1 C1 monthly 500 → annualized 6000; K2 C2 quarterly 1200 → 4800: 新签额 10800.
Tasks due in March: T1 S1 due 03-10 done 03-09 (on time); T2 S1 due 03-20 done 03-25 (late);
  T3 S2 due 03-15 done 03-14 (on time); T4 S2 cancelled → 按时完成率 = 2/3.
Invoice I1 C1 1000 paid 03-15 → 回款额 1000; company target 2000 → achievement 0.5.
On-time targets 0.9 for the company and both teams: 甲组 rate 1/2 with 2/3 of tasks → contribution
(0.9 − 0.5) × 2/3 = 0.2667; 乙组 rate 1 → (0.9 − 1) × 1/3 < 0. Top contributor: 甲组, share 100%.
Collected-amount team targets 甲组 1200, 乙组 800: 甲组 (C1's accountant S1) collected 1000 → gap 200;
乙组 collected nothing → gap 800, top contributor with share 800 / (200 + 800) = 0.8.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests import dbt_helpers as h

AS_OF = "2026-03-31"
TS = dt.datetime(2026, 3, 31, 20, 0)
D = dt.date.fromisoformat
STAFF = [("S1", "张会计", "甲组"), ("S2", "李会计", "乙组")]
CLIENTS = [("C1", "tech", "S1"), ("C2", "trade", "S2")]
CONTRACTS = [("K1", "C1", "monthly", "500", "2026-03-05"), ("K2", "C2", "quarterly", "1200", "2026-03-10")]
TASKS = [("T1", "C1", "S1", "2026-03-10", "2026-03-09 10:00", "done"),
         ("T2", "C1", "S1", "2026-03-20", "2026-03-25 10:00", "done"),
         ("T3", "C2", "S2", "2026-03-15", "2026-03-14 10:00", "done"),
         ("T4", "C2", "S2", "2026-03-25", None, "cancelled")]  # fmt: skip
TARGETS = [("collected_amount", "company", None, 2000.0),
           ("on_time_rate", "company", None, 0.9),
           ("on_time_rate", "team", "甲组", 0.9),
           ("on_time_rate", "team", "乙组", 0.9),
           ("collected_amount", "team", "甲组", 1200.0),
           ("collected_amount", "team", "乙组", 800.0)]  # fmt: skip


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    raw = {
        "staff": [h.accountant_row(staff_id=s, staff_name=n, team=t, updated_at=TS) for s, n, t in STAFF],
        "clients": [h.client_row(c, f"客户{c}", industry=ind, signed_date=D("2026-03-01"), accountant_id=s,
                                 updated_at=TS) for c, ind, s in CLIENTS],
        "contracts": [h.contract_row(k, c, fee, "2026-03-01", "2027-02-28", billing_cycle=cycle,
                                     signed_date=D(signed), updated_at=TS)
                      for k, c, cycle, fee, signed in CONTRACTS],
        "tasks": [h.task_row(t, c, "bookkeeping", due, st, period="2026-02", assignee_id=s,
                             created_at="2026-03-01 09:00", started_at="2026-03-02 09:00", completed_at=done,
                             updated_at=TS) for t, c, s, due, done, st in TASKS],
        "invoices": [h.invoice_row("I1", "C1", "2026-03-01", "2026-03-31", "1000", contract_id="K1",
                                   status="paid", updated_at=TS)],
        "payments": [h.payment_row("P1", "2026-03-15", "1000", client_id="C1", invoice_id="I1",
                                   channel="wechat", updated_at=TS)],
        "targets": [{"period": "2026-03", "metric": m, "scope_type": st, "scope_id": sid, "target_value": v}
                    for m, st, sid, v in TARGETS],
    }  # fmt: skip
    select = ["+path:models/marts/cockpit", "path:tests/cockpit"]
    return h.build_warehouse(tmp_path_factory.mktemp("cockpit"), AS_OF, select, raw)


def kpi(wh, metric):
    return h.query(
        wh,
        f"select actual, target, achievement_rate from marts.mart_kpi_cockpit "
        f"where period = '2026-03' and metric = '{metric}'",
    )[0]


def test_owned_metrics_by_hand(wh):
    assert kpi(wh, "on_time_rate")[0] == pytest.approx(2 / 3)
    assert kpi(wh, "on_time_rate")[2] == pytest.approx((2 / 3) / 0.9)
    assert kpi(wh, "new_contract_amount")[0] == 10800.0


def test_collected_achievement(wh):
    assert kpi(wh, "collected_amount") == (1000.0, 2000.0, 0.5)


def test_top_gap_contributor(wh):
    rows = h.query(
        wh,
        "select dimension_value, gap_contribution, share_of_gap, is_top_contributor "
        "from marts.mart_kpi_gap_attribution where metric = 'on_time_rate' and dimension_type = 'team' "
        "order by gap_rank",
    )
    assert rows[0][0] == "甲组" and rows[0][3]
    assert rows[0][1] == pytest.approx(0.4 * 2 / 3)
    assert rows[0][2] == pytest.approx(1.0)
    assert rows[1][0] == "乙组" and rows[1][1] == pytest.approx(-0.1 / 3) and not rows[1][3]


def test_collected_gap_by_team_counts_a_team_without_collections(wh):
    rows = h.query(
        wh,
        "select dimension_value, actual, target, gap_contribution, share_of_gap, is_top_contributor "
        "from marts.mart_kpi_gap_attribution where metric = 'collected_amount' and dimension_type = 'team' "
        "order by gap_rank",
    )
    assert rows == [
        ("乙组", 0.0, 800.0, 800.0, pytest.approx(0.8), True),
        ("甲组", 1000.0, 1200.0, 200.0, pytest.approx(0.2), False),
    ]
