"""客户信用分级 (mart_ar_credit_tiers) on hand-made clients as of 2026-10-22, one per tier.

Grace = 15 days; the 12-month history = invoices due in (2025-10-22, 2026-10-22].
  CA three invoices paid on their due dates, nothing open              → A (on-time 3/3)
  CB three invoices: two on time, one paid 5 days late (within grace)  → B (on-time 2/3 < 0.9, late share 0)
  CC four invoices, one paid 20 days late (late share 1/4 = 0.25)      → C
  CD one invoice 100 days past due (¥800 open)                         → D
  CN one invoice issued 10-01, due 11-01: nothing due yet              → N
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests import dbt_helpers as h

AS_OF = "2026-10-22"
TS = dt.datetime(2026, 10, 21, 8, 0)
D = dt.date.fromisoformat


def _paid(client, k, due, paid, amount="100"):
    """Invoice <client><k> due on `due`, issued 30 days before, paid in full on `paid`."""
    issue = (D(due) - dt.timedelta(days=30)).isoformat()
    return h.paid_invoice(f"{client}{k}", client, issue, due, paid, amount, updated_at=TS)


@pytest.fixture(scope="module")
def tiers(tmp_path_factory):
    pairs = [
        _paid("CA", 1, "2026-03-10", "2026-03-10"), _paid("CA", 2, "2026-05-10", "2026-05-09"),
        _paid("CA", 3, "2026-07-10", "2026-07-10"),
        _paid("CB", 1, "2026-03-10", "2026-03-10"), _paid("CB", 2, "2026-05-10", "2026-05-15"),
        _paid("CB", 3, "2026-07-10", "2026-07-01"),
        _paid("CC", 1, "2026-02-10", "2026-02-10"), _paid("CC", 2, "2026-04-10", "2026-04-30"),
        _paid("CC", 3, "2026-06-10", "2026-06-10"), _paid("CC", 4, "2026-08-10", "2026-08-10"),
    ]  # fmt: skip
    raw = {
        "staff": [h.accountant_row(updated_at=TS)],
        "clients": [h.client_row(c, f"客户{c}", updated_at=TS) for c in ("CA", "CB", "CC", "CD", "CN")],
        "invoices": [i for i, _ in pairs] + [
            h.invoice_row("CD1", "CD", "2026-06-14", "2026-07-14", "800", updated_at=TS),
            h.invoice_row("CN1", "CN", "2026-10-01", "2026-11-01", "500", updated_at=TS),
        ],
        "payments": [p for _, p in pairs],
    }  # fmt: skip
    path = h.build_warehouse(tmp_path_factory.mktemp("credit"), AS_OF, ["+mart_ar_credit_tier_summary"], raw)
    rows = h.query(
        path,
        "select client_id, credit_tier, invoices_due_12m, paid_on_time_12m, paid_late_12m,"
        " max_days_past_due, open_receivable_amount from marts.mart_ar_credit_tiers order by client_id",
    )
    summary = h.query(
        path,
        "select credit_tier, clients, overdue_amount from marts.mart_ar_credit_tier_summary"
        " order by tier_sort",
    )
    return rows, summary


def test_one_client_per_tier(tiers):
    rows, _ = tiers
    assert rows == [
        ("CA", "A", 3, 3, 0, 0, Decimal("0.00")),
        ("CB", "B", 3, 2, 0, 0, Decimal("0.00")),
        ("CC", "C", 4, 3, 1, 0, Decimal("0.00")),
        ("CD", "D", 1, 0, 1, 100, Decimal("800.00")),
        ("CN", "N", 0, 0, 0, 0, Decimal("500.00")),
    ]


def test_summary_per_tier(tiers):
    _, summary = tiers
    assert summary == [("A", 1, Decimal("0.00")), ("B", 1, Decimal("0.00")), ("C", 1, Decimal("0.00")),
                       ("D", 1, Decimal("800.00")), ("N", 1, Decimal("0.00"))]  # fmt: skip
