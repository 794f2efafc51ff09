"""应收账龄 marts on a hand-made firm, as of 2026-03-31; every number worked out by hand below.

Invoices (amount, issue → due), payments:
  A1 T1 1000  2026-01-05 → 02-04   400 paid 02-10 → open 600, 55 days past due → 31-60
  A2 T1  800  2026-03-10 → 04-09   unpaid, not yet due                          → current
  B1 T2  500  2026-01-10 → 02-09   unpaid, 50 days past due                     → 31-60
  C1 K1 2000  2025-09-01 → 10-01   unpaid, 181 days past due                    → >180
  W1 K1  300  2026-01-20 → 02-19   written off (not a receivable)
  V1 K1  900  2026-01-25 → 02-24   void
Buckets: current 800, 31-60 1100, >180 2000 → total 3900; client T1 1400.
Provision: 1100 × 5% + 2000 × 80% = 55 + 1600 = 1655.
At 2026-03-31: AR 3900, not yet due 800, billed in 90 days A1+A2+B1+W1 = 2600
  → DSO = 3900 / 2600 × 90 = 135, best possible DSO = 800 / 2600 × 90.
At 2026-02-28: AR = 600 (A1 after the 02-10 payment) + 500 + 2000 = 3100.
Bad debt (12 months): W1 300 ÷ billed A1+A2+B1+C1+W1 4600.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.dbt_helpers import accountant_row, build_warehouse, client_row, invoice_row, payment_row, query

AS_OF = "2026-03-31"
TS = dt.datetime(2026, 3, 31, 20, 0)
D = dt.date.fromisoformat
INVOICES = [("A1", "T1", "1000", "2026-01-05", "2026-02-04", "open"),
            ("A2", "T1", "800", "2026-03-10", "2026-04-09", "open"),
            ("B1", "T2", "500", "2026-01-10", "2026-02-09", "open"),
            ("C1", "K1", "2000", "2025-09-01", "2025-10-01", "open"),
            ("W1", "K1", "300", "2026-01-20", "2026-02-19", "written_off"),
            ("V1", "K1", "900", "2026-01-25", "2026-02-24", "void")]  # fmt: skip


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    raw = {
        "staff": [accountant_row(team="朝阳分部", updated_at=TS)],
        "clients": [client_row(c, f"客户{c}", signed_date=D("2025-01-01"), updated_at=TS)
                    for c in ("T1", "T2", "K1")],
        "invoices": [invoice_row(i, c, s, d, a, status=st, updated_at=TS) for i, c, a, s, d, st in INVOICES],
        "payments": [payment_row("P1", "2026-02-10", "400", client_id="T1", invoice_id="A1", channel="wechat",
                                 updated_at=TS)],
    }  # fmt: skip
    select = ["+path:models/marts/ar", "path:tests/ar"]
    return build_warehouse(tmp_path_factory.mktemp("ar"), AS_OF, select, raw)


def test_buckets(wh):
    rows = query(wh, "select bucket, outstanding_amount from marts.mart_ar_provision order by bucket_sort")
    expected = {"current": "800.00", "d1_30": "0.00", "d31_60": "1100.00", "d61_90": "0.00",
                "d91_180": "0.00", "over_180": "2000.00", "total": "3900.00"}  # fmt: skip
    assert rows == [(k, Decimal(v)) for k, v in expected.items()]
    assert query(
        wh, "select days_past_due, bucket from marts.mart_ar_aging_invoices where invoice_id = 'C1'"
    ) == [(181, "over_180")]


def test_client_total_and_provision(wh):
    t1 = query(wh, "select total_outstanding, d31_60_amount, current_amount from marts.mart_ar_aging_clients "
               "where client_id = 'T1'")  # fmt: skip
    assert t1 == [(Decimal("1400.00"), Decimal("600.00"), Decimal("800.00"))]
    assert query(wh, "select provision_amount from marts.mart_ar_provision where bucket = 'total'") == [
        (Decimal("1655.00"),)
    ]


def test_dso_and_reconstructed_balances(wh):
    row = query(wh, "select ar_end, billed_90d, dso, best_possible_dso, bad_debt_rate_12m "
                "from marts.mart_ar_monthly_kpis where is_as_of_date")[0]  # fmt: skip
    assert row[:2] == (Decimal("3900.00"), Decimal("2600.00"))
    assert row[2] == pytest.approx(135.0)
    assert row[3] == pytest.approx(800 / 2600 * 90)
    assert row[4] == pytest.approx(300 / 4600)
    assert query(wh, "select ar_end from marts.mart_ar_monthly_kpis where measure_date = '2026-02-28'") == [
        (Decimal("3100.00"),)
    ]
