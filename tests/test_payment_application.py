"""The contract's payment application rule, settled by the real dbt models on hand-made raw rows.

Scenario, as of 2024-06-30 (every expected number below is worked out by hand in the comments):

Clients: C1 甲公司, C2 乙公司, C3A and C3B both named 丙公司 (ambiguous payer name).
Invoices:
  I1 C1 issued 01-01 due 01-31 1000.00      I2 C1 issued 02-01 due 02-29 1000.00
  I3 C1 issued 03-01 due 03-31 1500.00      I7 C1 issued 07-05 (after as_of: excluded)
  I4 C2 issued 01-15 due 02-15  800.00      I5 C2 issued 02-15 due 03-15  500.00 VOID
  I6 C2 issued 03-15 due 04-15  600.00      I9 C2 issued 05-01 due 05-31  150.00
  I8 C3A issued 04-01 due 05-01 300.00
Payments:
  P10 01-20  400.00 invoice I1          -> I1 400 (by invoice)
  P1  02-20 1000.00 invoice I2          -> I2 1000 (by invoice, even though I1 is older)
  P3  03-01  500.00 payer 乙公司 only    -> C2 by payer name
  P2  03-10 1800.00 client C1 only      -> C1 oldest due first
  P5  04-20 1000.00 invoice I6          -> I6 600, excess 400 becomes C2 credit
  P6  05-10  200.00 invoice I5 (void)   -> falls back to I5's client C2
  P9  06-01  100.00 unknown invoice, C3A -> falls back to C3A
  P4  06-05  300.00 payer 丙公司 only    -> two clients share the name: unidentified
  P7  06-15 1000.00 client C1 only      -> C1 oldest due first, overpays
  P8  07-02  500.00 client C1 (after as_of: excluded)

Step 1 (named invoices): I1 <- P10 400; I2 <- P1 1000; I6 <- P5 600 (P5 excess 400).
Step 2, C1 queue. Open after step 1: I1 600 [0,600), I3 1500 [600,2100).
  Money: P2 [0,1800), P7 [1800,2800).
  P2 -> I1 600, P2 -> I3 1200; P7 -> I3 300 ([1800,2100)); P7 credit 1000-300 = 700.
Step 2, C2 queue. Open: I4 800 [0,800), I9 150 [800,950) (I5 void, I6 settled).
  Money: P3 [0,500), P5 excess [500,900), P6 [900,1100).
  P3 -> I4 500; P5 -> I4 300, P5 -> I9 100; P6 -> I9 50, P6 credit 200-50 = 150.
Step 2, C3A: I8 300 [0,300); P9 [0,100) -> I8 100. Outstanding I8 = 200.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial

import pytest

from tests import dbt_helpers as h

AS_OF = "2024-06-30"
TS = dt.datetime(2024, 6, 30, 20, 0)
D = dt.date.fromisoformat


_client = partial(h.client_row, updated_at=TS)
_invoice = partial(h.invoice_row, updated_at=TS)
_payment = partial(h.payment_row, updated_at=TS)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    raw = {
        "staff": [h.accountant_row(updated_at=TS)],
        "clients": [
            _client("C1", "甲公司"),
            _client("C2", "乙公司"),
            _client("C3A", "丙公司"),
            _client("C3B", "丙公司"),
        ],
        "invoices": [
            _invoice("I1", "C1", "2024-01-01", "2024-01-31", "1000.00"),
            _invoice("I2", "C1", "2024-02-01", "2024-02-29", "1000.00"),
            _invoice("I3", "C1", "2024-03-01", "2024-03-31", "1500.00"),
            _invoice("I7", "C1", "2024-07-05", "2024-08-05", "700.00"),
            _invoice("I4", "C2", "2024-01-15", "2024-02-15", "800.00"),
            _invoice("I5", "C2", "2024-02-15", "2024-03-15", "500.00", status="void"),
            _invoice("I6", "C2", "2024-03-15", "2024-04-15", "600.00"),
            _invoice("I9", "C2", "2024-05-01", "2024-05-31", "150.00"),
            _invoice("I8", "C3A", "2024-04-01", "2024-05-01", "300.00"),
        ],
        "payments": [
            _payment("P10", "2024-01-20", "400.00", client_id="C1", invoice_id="I1"),
            _payment("P1", "2024-02-20", "1000.00", client_id="C1", invoice_id="I2"),
            _payment("P3", "2024-03-01", "500.00", payer_name="乙公司"),
            _payment("P2", "2024-03-10", "1800.00", client_id="C1"),
            _payment("P5", "2024-04-20", "1000.00", client_id="C2", invoice_id="I6"),
            _payment("P6", "2024-05-10", "200.00", invoice_id="I5"),
            _payment("P9", "2024-06-01", "100.00", client_id="C3A", invoice_id="I404"),
            _payment("P4", "2024-06-05", "300.00", payer_name="丙公司"),
            _payment("P7", "2024-06-15", "1000.00", client_id="C1"),
            _payment("P8", "2024-07-02", "500.00", client_id="C1"),
        ],
    }
    # building core also runs every generic and singular dbt test on the way
    yield from h.read_only_warehouse(
        tmp_path_factory.mktemp("payment_application"), AS_OF, ["+path:models/core"], raw
    )


def test_every_application_to_the_cent(warehouse):
    rows = warehouse.execute(
        "select payment_id, invoice_id, client_id, applied_amount, paid_date, application_method"
        " from core.fct_payment_applications order by payment_id, invoice_id"
    ).fetchall()
    expected = [
        ("P1", "I2", "C1", Decimal("1000.00"), D("2024-02-20"), "invoice"),
        ("P10", "I1", "C1", Decimal("400.00"), D("2024-01-20"), "invoice"),
        ("P2", "I1", "C1", Decimal("600.00"), D("2024-03-10"), "client_oldest_due"),
        ("P2", "I3", "C1", Decimal("1200.00"), D("2024-03-10"), "client_oldest_due"),
        ("P3", "I4", "C2", Decimal("500.00"), D("2024-03-01"), "payer_name_oldest_due"),
        ("P5", "I4", "C2", Decimal("300.00"), D("2024-04-20"), "invoice_overpayment_credit"),
        ("P5", "I6", "C2", Decimal("600.00"), D("2024-04-20"), "invoice"),
        ("P5", "I9", "C2", Decimal("100.00"), D("2024-04-20"), "invoice_overpayment_credit"),
        ("P6", "I9", "C2", Decimal("50.00"), D("2024-05-10"), "client_oldest_due"),
        ("P7", "I3", "C1", Decimal("300.00"), D("2024-06-15"), "client_oldest_due"),
        ("P9", "I8", "C3A", Decimal("100.00"), D("2024-06-01"), "client_oldest_due"),
    ]
    assert rows == expected


def test_payments_identification_applied_and_credit(warehouse):
    rows = warehouse.execute(
        "select payment_id, identification_method, resolved_client_id, invoice_reference,"
        " applied_amount, credit_amount, unidentified_amount from core.fct_payments order by payment_id"
    ).fetchall()
    z = Decimal("0.00")
    expected = [
        ("P1", "invoice", "C1", "valid", Decimal("1000.00"), z, z),
        ("P10", "invoice", "C1", "valid", Decimal("400.00"), z, z),
        ("P2", "client", "C1", "none", Decimal("1800.00"), z, z),
        ("P3", "payer_name", "C2", "none", Decimal("500.00"), z, z),
        ("P4", "unidentified", None, "none", z, z, Decimal("300.00")),
        ("P5", "invoice", "C2", "valid", Decimal("1000.00"), z, z),
        ("P6", "client", "C2", "void", Decimal("50.00"), Decimal("150.00"), z),
        ("P7", "client", "C1", "none", Decimal("300.00"), Decimal("700.00"), z),
        ("P9", "client", "C3A", "unknown", Decimal("100.00"), z, z),
    ]  # P8 (paid 07-02) is after as_of
    assert rows == expected


def test_invoices_outstanding_and_payment_dates(warehouse):
    rows = warehouse.execute(
        "select invoice_id, applied_amount, outstanding_amount, is_void, fully_paid_date, days_to_pay,"
        " paid_on_time, days_past_due, aging_bucket from core.fct_invoices order by invoice_id"
    ).fetchall()
    z = Decimal("0.00")
    expected = [
        # I1: last money P2 on 03-10; 2024-01-01 -> 03-10 = 30 + 29 + 10 = 69 days, late (due 01-31)
        ("I1", Decimal("1000.00"), z, False, D("2024-03-10"), 69, False, 0, "settled"),
        ("I2", Decimal("1000.00"), z, False, D("2024-02-20"), 19, True, 0, "settled"),
        # I3: completed by P7 on 06-15; 03-01 -> 06-15 = 31 + 30 + 31 + 14 = 106 days
        ("I3", Decimal("1500.00"), z, False, D("2024-06-15"), 106, False, 0, "settled"),
        # I4: completed by P5's excess on 04-20; 01-15 -> 04-20 = 16 + 29 + 31 + 20 = 96 days
        ("I4", Decimal("800.00"), z, False, D("2024-04-20"), 96, False, 0, "settled"),
        ("I5", z, z, True, None, None, None, 0, "void"),
        # I6: paid 04-20, five days after its 04-15 due date; 03-15 -> 04-20 = 16 + 20 = 36 days
        ("I6", Decimal("600.00"), z, False, D("2024-04-20"), 36, False, 0, "settled"),
        # I8: 300 - 100 = 200 outstanding, due 05-01 -> 60 days past due on 06-30
        ("I8", Decimal("100.00"), Decimal("200.00"), False, None, None, None, 60, "d31_60"),
        # I9: P5's excess lands on 05-01 (issue date), P6 completes it on 05-10
        ("I9", Decimal("150.00"), z, False, D("2024-05-10"), 9, True, 0, "settled"),
    ]  # I7 (issued 07-05) is after as_of
    assert rows == expected
    total = warehouse.execute("select sum(open_receivable_amount) from core.fct_invoices").fetchone()[0]
    assert total == Decimal("200.00")


def test_cutoff_dates_are_as_of_and_previous_month_ends(warehouse):
    rows = warehouse.execute(
        "select cutoff_date, is_as_of_date from intermediate.int_cutoff_dates order by cutoff_date"
    ).fetchall()
    # the as-of date plus 13 month ends before it: 2023-05-31 .. 2024-05-31
    assert rows[-1] == (D("2024-06-30"), True)
    assert [r[0] for r in rows[:-1]] == [
        dt.date(2023 + (m // 12), m % 12 + 1, 1) - dt.timedelta(days=1) for m in range(5, 18)
    ]
    assert not any(flag for _, flag in rows[:-1])


def test_applications_as_known_at_an_earlier_cutoff(warehouse):
    """On 2024-04-30 I5 was not void yet (its void update is dated 06-30), P6/P7/P9 had not arrived and
    I9 was not issued. C2 queue then: I4 800 [0,800), I5 500 [800,1300); money P3 [0,500), P5's
    excess [500,900): P3 -> I4 500, P5 -> I4 300, P5 -> I5 100. As of 06-30 that 100 goes to I9
    instead; the cutoff slice keeps what was known on 04-30."""
    rows = warehouse.execute(
        "select payment_id, invoice_id, applied_amount, applied_date, application_method"
        " from intermediate.int_payment_applications_at_cutoffs where cutoff_date = date '2024-04-30'"
        " order by payment_id, invoice_id"
    ).fetchall()
    assert rows == [
        ("P1", "I2", Decimal("1000.00"), D("2024-02-20"), "invoice"),
        ("P10", "I1", Decimal("400.00"), D("2024-01-20"), "invoice"),
        ("P2", "I1", Decimal("600.00"), D("2024-03-10"), "client_oldest_due"),
        ("P2", "I3", Decimal("1200.00"), D("2024-03-10"), "client_oldest_due"),
        ("P3", "I4", Decimal("500.00"), D("2024-03-01"), "payer_name_oldest_due"),
        ("P5", "I4", Decimal("300.00"), D("2024-04-20"), "invoice_overpayment_credit"),
        ("P5", "I5", Decimal("100.00"), D("2024-04-20"), "invoice_overpayment_credit"),
        ("P5", "I6", Decimal("600.00"), D("2024-04-20"), "invoice"),
    ]
    # and core is exactly the as-of slice
    slice_rows = warehouse.execute(
        "select application_id, applied_amount, applied_date"
        " from intermediate.int_payment_applications_at_cutoffs"
        " where cutoff_date = date '2024-06-30' order by 1"
    ).fetchall()
    core_rows = warehouse.execute(
        "select application_id, applied_amount, applied_date from core.fct_payment_applications order by 1"
    ).fetchall()
    assert slice_rows == core_rows and len(core_rows) == 11
