"""公司/部门月度收款 and the period semantics (int_period_windows) on a hand-made firm, run as of the
1st, the 20th and the last day of March 2026. Every expected number is worked out by hand below.

Clients: T (team 一部, accountant S1), K (team 二部, accountant S2).
Invoices (amount, issue → due) and payments applied to them:
  I6 T  600  2026-01-20 → 02-19   P7 600 on 03-20 (late)
  I1 T 1000  2026-02-01 → 02-15   P1 1000 on 02-10
  I2 T 2000  2026-02-25 → 03-10   P2 500 on 02-26, P3 1500 on 03-05 (paid in full by due: on time)
  I3 K 3000  2026-03-01 → 03-31   P4 3000 on 03-02
  I4 K  400  2026-03-15 → 04-14   P5 100 on 03-25
  I5 T  800  2025-03-02 → 04-01   P6 800 on 2025-03-10
  PU 250 received 03-18 from 无名氏: unidentified.

As of 03-01 (1 day of March): March billed I3 3000, collected 0, rate 0/3000 = 0. Compared with
  Feb 1..1 (billed I1 1000, collected 0) and 2025-03-01..01 (nothing). Label 较上月同期.
As of 03-20 (20 days): billed I3 + I4 = 3400; collected P3 1500 + P4 3000 + P7 600 = 5100;
  collected on March's bills by 03-20: P4 3000 → rate 3000/3400. Feb 1..20: billed 1000, collected
  P1 1000, I1 collected by 02-20 → rate 1. MoM +4100. 2025-03-01..20: billed 800, collected 800 →
  YoY +4300. Due in Mar 1..20: I2, on time → 1/1. Teams: 一部 collected 2100 (P3 + P7), billed 0
  (rate NULL); 二部 collected 3000, billed 3400.
As of 03-31 (full month): billed 3400; collected 5100 + P5 100 = 5200; rate (3000 + 100)/3400.
  Compared with all of February: billed 3000, collected 1500 (P1 + P2), rate by 02-28 =
  (1000 + 500)/3000 = 0.5. MoM +3700, label 较上月. February (full) is compared with all of January
  measured 31 days after its end (cutoff 03-03): I6 unpaid by then → 0; February's own rate as of
  03-31 = 3000/3000.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from tests import dbt_helpers as h

D = dt.date.fromisoformat


def _ts(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day + "T08:00:00")


INVOICES = [("I6", "T", "2026-01-20", "2026-02-19", "600"), ("I1", "T", "2026-02-01", "2026-02-15", "1000"),
            ("I2", "T", "2026-02-25", "2026-03-10", "2000"), ("I3", "K", "2026-03-01", "2026-03-31", "3000"),
            ("I4", "K", "2026-03-15", "2026-04-14", "400"),
            ("I5", "T", "2025-03-02", "2025-04-01", "800")]  # fmt: skip
PAYMENTS = [("P7", "I6", "T", "2026-03-20", "600"), ("P1", "I1", "T", "2026-02-10", "1000"),
            ("P2", "I2", "T", "2026-02-26", "500"), ("P3", "I2", "T", "2026-03-05", "1500"),
            ("P4", "I3", "K", "2026-03-02", "3000"), ("P5", "I4", "K", "2026-03-25", "100"),
            ("P6", "I5", "T", "2025-03-10", "800")]  # fmt: skip


def build_firm(path) -> None:
    conn = h.new_raw_warehouse(path)
    old = _ts("2025-01-01")
    h.insert_rows(conn, "staff", [h.accountant_row(updated_at=old, staff_id="S1", team="一部"),
                                h.accountant_row(updated_at=old, staff_id="S2", staff_name="李会计",
                                               team="二部")])  # fmt: skip
    h.insert_rows(conn, "clients", [h.client_row("T", "甲科技", updated_at=old, signed_date=D("2024-12-01")),
                                  h.client_row("K", "乙建筑", updated_at=old, accountant_id="S2",
                                             industry="construction",
                                             signed_date=D("2024-12-01"))])  # fmt: skip
    h.insert_rows(
        conn, "invoices", [h.invoice_row(i, c, s, d, a, updated_at=_ts(s)) for i, c, s, d, a in INVOICES]
    )
    h.insert_rows(conn, "payments", [h.payment_row(p, d, a, updated_at=_ts(d), client_id=c, invoice_id=i)
                                   for p, i, c, d, a in PAYMENTS])  # fmt: skip
    h.insert_rows(conn, "payments", [h.payment_row("PU", "2026-03-18", "250", updated_at=_ts("2026-03-18"),
                                               payer_name="无名氏", channel="cash")])  # fmt: skip
    conn.close()


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """as_of -> warehouse path, one warehouse per night (the same raw rows)."""
    out = {}
    for as_of in ("2026-03-01", "2026-03-20", "2026-03-31"):
        tmp = tmp_path_factory.mktemp(f"monthly-{as_of}")
        path = tmp / "warehouse.duckdb"
        build_firm(path)
        h.run_dbt(["build", "--select", "+mart_collections_firm_monthly", "+mart_collections_team_monthly",
                 "--indirect-selection", "cautious"], path, as_of, tmp / "target")  # fmt: skip
        out[as_of] = path
    return out


def firm_row(path, period, cols):
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"select {cols} from marts.mart_collections_firm_monthly where period = ?",
                            [period]).fetchone()  # fmt: skip


COMPARE = ("is_partial_period, period_label, mom_label, period_end, prev_period_start, prev_period_end, "
           "billed_amount, collected_amount, collection_rate, prev_billed_amount, prev_collected_amount, "
           "prev_collection_rate, collected_mom_change, ly_billed_amount, ly_collected_amount, "
           "collected_yoy_change")  # fmt: skip


def test_first_of_month_is_one_day_against_one_day(nights):
    row = firm_row(nights["2026-03-01"], "2026-03", COMPARE)
    assert row == (True, "2026-03（本月至今）", "较上月同期",
                   D("2026-03-01"), D("2026-02-01"), D("2026-02-01"),
                   Decimal("3000.00"), Decimal("0.00"), 0.0, Decimal("1000.00"), Decimal("0.00"),
                   0.0, Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))  # fmt: skip
    # the as-of month is the latest row: 本月 is never last month's total
    with duckdb.connect(str(nights["2026-03-01"]), read_only=True) as conn:
        latest = conn.execute("select max(period) from marts.mart_collections_firm_monthly").fetchone()[0]
    assert latest == "2026-03"


def test_twentieth_compares_twenty_days(nights):
    row = firm_row(nights["2026-03-20"], "2026-03", COMPARE)
    assert row == (True, "2026-03（本月至今）", "较上月同期",
                   D("2026-03-20"), D("2026-02-01"), D("2026-02-20"),
                   Decimal("3400.00"), Decimal("5100.00"), pytest.approx(3000 / 3400), Decimal("1000.00"),
                   Decimal("1000.00"), 1.0, Decimal("4100.00"), Decimal("800.00"), Decimal("800.00"),
                   Decimal("4300.00"))  # fmt: skip
    more = firm_row(
        nights["2026-03-20"],
        "2026-03",
        "on_time_rate, unidentified_amount, unidentified_count, collected_amount_wan, yoy_label",
    )
    assert more == (1.0, Decimal("250.00"), 1, 0.51, "较去年同期")


def test_last_day_is_a_full_month_against_a_full_month(nights):
    row = firm_row(nights["2026-03-31"], "2026-03", COMPARE)
    assert row == (False, "2026-03", "较上月", D("2026-03-31"), D("2026-02-01"), D("2026-02-28"),
                   Decimal("3400.00"), Decimal("5200.00"), pytest.approx(3100 / 3400), Decimal("3000.00"),
                   Decimal("1500.00"), 0.5, Decimal("3700.00"), Decimal("800.00"), Decimal("800.00"),
                   Decimal("4400.00"))  # fmt: skip


def test_full_past_month_compared_at_the_same_age(nights):
    row = firm_row(
        nights["2026-03-31"],
        "2026-02",
        "is_partial_period, collection_rate, prev_period_end, prev_cutoff_date, prev_collection_rate",
    )
    assert row == (False, 1.0, D("2026-01-31"), D("2026-03-03"), 0.0)


def test_partial_flag_only_on_the_as_of_month(nights):
    for as_of, partial in (("2026-03-01", ["2026-03"]), ("2026-03-20", ["2026-03"]), ("2026-03-31", [])):
        with duckdb.connect(str(nights[as_of]), read_only=True) as conn:
            rows = conn.execute("select period from marts.mart_collections_firm_monthly "
                                "where is_partial_period order by period").fetchall()  # fmt: skip
            months = conn.execute("select count(*), count(distinct period) "
                                  "from marts.mart_collections_firm_monthly "
                                  "where period between '2025-03' and '2026-03'").fetchone()  # fmt: skip
        assert [r[0] for r in rows] == partial, as_of
        assert months == (13, 13)  # no gaps


def test_team_rows(nights):
    with duckdb.connect(str(nights["2026-03-20"]), read_only=True) as conn:
        rows = conn.execute("select team, billed_amount, collected_amount, collection_rate "
                            "from marts.mart_collections_team_monthly where period = '2026-03' "
                            "order by team").fetchall()  # fmt: skip
    assert rows == [("一部", Decimal("0.00"), Decimal("2100.00"), None),
                    ("二部", Decimal("3400.00"), Decimal("3000.00"), pytest.approx(3000 / 3400))]  # fmt: skip
