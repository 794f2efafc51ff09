"""收款分析 marts on a hand-made firm, every expected number worked out by hand below.

As of 2026-03-31. Clients: T1 (tech), T2 (tech), K1 (construction); contracts: one bookkeeping each.
Invoices (amount, issue → due):
  A1 T1 1000  01-05 → 02-04   paid in full 02-04 (30 days, on time)
  A2 T1 1000  02-05 → 03-07   paid in full 03-01 (24 days, on time)
  B1 T2  500  01-10 → 02-09   paid 200 on 02-20, nothing more: open 300, 50 days past due
  C1 K1 2000  01-15 → 02-14   paid in full 03-16 (60 days, 30 days late)
  C2 K1 1500  02-20 → 03-22   unpaid: open 1500, 9 days past due
  V1 K1  900  01-20 → 02-19   VOID (never billed)
Payments: P1 A1 1000 02-04 (wechat); P2 A2 1000 03-01 (wechat); P3 B1 200 02-20 (bank_transfer);
  P4 C1 2000 03-16 (bank_transfer); PU 300 03-20 payer 无名氏 (cash) → unidentified.

January (billed A1, B1, C1 = 3500): collected by as-of 1000 + 200 + 2000 = 3200 → rate 3200/3500.
  Days to pay of January's fully paid invoices: A1 30, C1 60 → avg 45.
February: billed A2 + C2 = 2500; collected in February (by applied date) A1 1000 + B1 200 = 1200.
  Invoices due in February: A1 (on time), B1 (not paid), C1 (late) → on-time 1/3.
Q1 collected = 1000 + 200 + 1000 + 2000 = 4200.
Timeliness (fully paid in trailing 12 months): tech A1 30, A2 24 → median 27; construction C1 60
  → median 60: construction is 33 days slower than tech.
Arrears: K1 overdue 1500 (C2, 9 days) > T2 overdue 300 (B1, 50 days) → K1 rank 1, T2 rank 2.
Channels in March: wechat 1000, bank_transfer 2000, cash 300 of which unidentified 300.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests import dbt_helpers as h

AS_OF = "2026-03-31"
TS = dt.datetime(2026, 3, 31, 20, 0)
D = dt.date.fromisoformat
CLIENTS = [("T1", "甲科技", "tech"), ("T2", "乙科技", "tech"), ("K1", "丙建筑", "construction")]
INVOICES = [("A1", "T1", "1000", "2026-01-05", "2026-02-04", "paid"),
            ("A2", "T1", "1000", "2026-02-05", "2026-03-07", "paid"),
            ("B1", "T2", "500", "2026-01-10", "2026-02-09", "open"),
            ("C1", "K1", "2000", "2026-01-15", "2026-02-14", "paid"),
            ("C2", "K1", "1500", "2026-02-20", "2026-03-22", "open"),
            ("V1", "K1", "900", "2026-01-20", "2026-02-19", "void")]  # fmt: skip
PAYMENTS = [("P1", "T1", "A1", "1000", "2026-02-04", "wechat", None),
            ("P2", "T1", "A2", "1000", "2026-03-01", "wechat", None),
            ("P3", "T2", "B1", "200", "2026-02-20", "bank_transfer", None),
            ("P4", "K1", "C1", "2000", "2026-03-16", "bank_transfer", None),
            ("PU", None, None, "300", "2026-03-20", "cash", "无名氏")]  # fmt: skip


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    raw = {
        "staff": [h.accountant_row(team="朝阳分部", updated_at=TS)],
        "clients": [h.client_row(cid, name, industry=ind, signed_date=D("2025-12-01"), updated_at=TS)
                    for cid, name, ind in CLIENTS],
        "contracts": [h.contract_row(f"K-{c}", c, "500", "2026-01-01", "2026-12-31", updated_at=TS)
                      for c in ("T1", "T2", "K1")],
        "invoices": [h.invoice_row(i, c, s, d, a, contract_id=f"K-{c}", status=st, updated_at=TS)
                     for i, c, a, s, d, st in INVOICES],
        "payments": [h.payment_row(p, d, a, client_id=c, invoice_id=i, channel=ch, payer_name=payer,
                                   updated_at=TS) for p, c, i, a, d, ch, payer in PAYMENTS],
    }  # fmt: skip
    return h.build_warehouse(
        tmp_path_factory.mktemp("collections"), AS_OF, ["+path:models/marts/collections"], raw
    )


def month_totals(wh, period):
    return h.query(
        wh,
        f"""select sum(billed_amount), sum(billed_collected_amount), sum(collected_amount),
        sum(days_to_pay_total), sum(invoices_paid), sum(invoices_due), sum(invoices_due_paid_on_time)
        from marts.mart_collections_by_period where period = '{period}'""",
    )[0]


def test_january_collection_rate_and_days_to_pay(wh):
    billed, billed_collected, _, days_total, paid, _, _ = month_totals(wh, "2026-01")
    assert billed == Decimal("3500.00")  # the void V1 is not billed
    assert billed_collected == Decimal("3200.00")
    assert days_total / paid == 45  # (30 + 60) / 2


def test_february_collected_and_on_time(wh):
    billed, _, collected, _, _, due, on_time = month_totals(wh, "2026-02")
    assert (billed, collected) == (Decimal("2500.00"), Decimal("1200.00"))
    assert (due, on_time) == (3, 1)


def test_quarter_rollup(wh):
    assert month_totals(wh, "2026-Q1")[2] == Decimal("4200.00")
    rate = h.query(wh, "select collection_rate from marts.mart_collections_by_period "
                 "where period = '2026-01' and industry = 'construction'")[0][0]  # fmt: skip
    assert rate == pytest.approx(2000 / 2000)  # C1 fully collected; V1 void


def test_construction_pays_slower_than_tech(wh):
    rows = dict(
        h.query(wh, "select industry, days_slower_than_tech from marts.mart_payment_timeliness_by_industry")
    )
    assert rows == {"tech": 0.0, "construction": 33.0}


def test_arrears_top10(wh):
    rows = h.query(wh, "select rank, client_id, overdue_amount, max_days_overdue, overdue_invoice_count "
                 "from marts.mart_arrears_top10 order by rank")  # fmt: skip
    assert rows == [(1, "K1", Decimal("1500.00"), 9, 1), (2, "T2", Decimal("300.00"), 50, 1)]


def test_channels_with_unidentified_receipts(wh):
    rows = h.query(wh, "select channel, received_amount, unidentified_amount "
                 "from marts.mart_collections_by_channel where period = '2026-03' "
                 "order by channel")  # fmt: skip
    assert rows == [("bank_transfer", Decimal("2000.00"), Decimal("0.00")),
                    ("cash", Decimal("300.00"), Decimal("300.00")),
                    ("wechat", Decimal("1000.00"), Decimal("0.00"))]  # fmt: skip
