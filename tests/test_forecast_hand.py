"""The collection forecast model's three components (dbt: intermediate/forecast, marts/forecast) on a
hand-made firm, every number worked out by hand.

Cutoff 2024-06-30 (= as_of). MAX_OFFSET 4, REF_MONTHS 6: reference invoices are those issued
2023-09..2024-02, new business is averaged over 2024-01..2024-06.

Clients C1, C2, both industry tech (no client has 6 reference invoices: the industry level is used).
Reference invoices (no contract):
  R1 C1 issued 2023-10-05 1000: 600 paid 10-20 (k = 0), 400 paid 11-10 (k = 1)
  R2 C2 issued 2024-01-10 1000: 1000 paid 02-15 (k = 1)
  → tech shares: k0 = 600 / 2000 = 0.3, k1 = 1400 / 2000 = 0.7, k2..k4 = 0.
Contracts:
  K1 C1 bookkeeping quarterly 900, signed 2024-05-20, 2024-06-01..2025-05-31: I6 issued 06-01, open.
  K2 C2 audit one-off 1200, signed and started 2024-04-10, no predecessor: I4 issued 04-10, paid 04-25.
Open: I6 900, issued this month (age 0, 30 % of such money usually arrives by now):
  July (h1) = 900 × 0.7 / (1 − 0.3) = 900; later months 0.
Scheduled: K1's next cycles 2024-09-01 and 2024-12-01 (2025-03-01 is past the 6-month horizon):
  Sep (h3) 900 × 0.3 = 270, Oct (h4) 900 × 0.7 = 630, Dec (h6) 270.
New business: only K2 (signed and invoiced in April; K1 was signed in May but invoiced in June).
  The window has 6 months of history (first invoice 2023-10) → 1200 / 6 = 200 a month (tech, audit),
  each month's 200 collected 30 % in its month, 70 % the next:
  July 200 × 0.3 = 60; from August on 200 × 0.7 + 200 × 0.3 = 200.
Firm: month_1 (Jul) 900 + 0 + 60 = 960; month_2 (Aug) 200; month_3 (Sep) 270 + 200 = 470;
  next_quarter (Jul–Sep) open 900, scheduled 270, new 460, total 1630.
(The published amount is whichever method backtests best; these are the model's columns.)
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from tests import dbt_helpers as h

AS_OF = dt.date(2024, 6, 30)
TS = dt.datetime(2024, 6, 30, 20, 0)
D = dt.date.fromisoformat


def _contract(kid, cid, service, cycle, fee, signed, start, end):
    return h.contract_row(kid, cid, fee, start, end, service_type=service, billing_cycle=cycle,
                          signed_date=D(signed), updated_at=TS)  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    raw = {
        "staff": [h.accountant_row(updated_at=TS)],
        "clients": [h.client_row(c, f"{c}公司", updated_at=TS) for c in ("C1", "C2")],
        "contracts": [
            _contract(
                "K1", "C1", "bookkeeping", "quarterly", "900.00", "2024-05-20", "2024-06-01", "2025-05-31"
            ),
            _contract("K2", "C2", "audit", "one_off", "1200.00", "2024-04-10", "2024-04-10", "2024-04-30"),
        ],
        "invoices": [
            # due 30 days after issue
            h.invoice_row("R1", "C1", "2023-10-05", "2023-11-04", "1000.00", updated_at=TS),
            h.invoice_row("R2", "C2", "2024-01-10", "2024-02-09", "1000.00", updated_at=TS),
            h.invoice_row("I4", "C2", "2024-04-10", "2024-05-10", "1200.00", updated_at=TS, contract_id="K2"),
            h.invoice_row("I6", "C1", "2024-06-01", "2024-07-01", "900.00", updated_at=TS, contract_id="K1"),
        ],
        "payments": [
            h.payment_row(p, paid, amount, updated_at=TS, invoice_id=iid, client_id=cid)
            for p, iid, cid, paid, amount in [
                ("P1", "R1", "C1", "2023-10-20", "600.00"),
                ("P2", "R1", "C1", "2023-11-10", "400.00"),
                ("P3", "R2", "C2", "2024-02-15", "1000.00"),
                ("P4", "I4", "C2", "2024-04-25", "1200.00"),
            ]
        ],
    }
    tmp = tmp_path_factory.mktemp("forecast_hand")
    return h.build_warehouse(
        tmp, AS_OF.isoformat(), ["+mart_collection_forecast", "+mart_forecast_client_risk"], raw
    )


@pytest.fixture(scope="module")
def forecast(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute("select * from marts.mart_collection_forecast").df()


def _firm(frame, horizon):
    row = frame[(frame["horizon"] == horizon) & (frame["scope_type"] == "firm")]
    assert len(row) == 1
    r = row.iloc[0]
    return (
        r["open_invoice_amount"],
        r["scheduled_invoice_amount"],
        r["new_business_amount"],
        r["model_amount"],
    )


def test_firm_components_by_horizon(forecast):
    assert _firm(forecast, "month_1") == pytest.approx((900, 0, 60, 960))
    assert _firm(forecast, "month_2") == pytest.approx((0, 0, 200, 200))
    assert _firm(forecast, "month_3") == pytest.approx((0, 270, 200, 470))
    assert _firm(forecast, "next_quarter") == pytest.approx((900, 270, 460, 1630))
    assert set(forecast["horizon"]) == {"month_1", "month_2", "month_3", "next_quarter"}  # month end: no rest


def test_periods_and_band(forecast):
    q = forecast[(forecast["horizon"] == "next_quarter") & (forecast["scope_type"] == "firm")].iloc[0]
    period = (pd.Timestamp(q["period_start"]).date(), pd.Timestamp(q["period_end"]).date())
    assert period == (dt.date(2024, 7, 1), dt.date(2024, 9, 30))
    assert (q["period_type"], q["is_partial_period"]) == ("quarter", False)
    band = q["band_pct"]
    assert (q["low_amount"], q["high_amount"]) == pytest.approx(
        (max(0, q["expected_amount"] * (1 - band)), q["expected_amount"] * (1 + band)), abs=0.01
    )
    assert (forecast["low_amount"] >= 0).all()  # a band over 100 % never predicts negative collections


def test_split_by_service_type(forecast):
    q = forecast[(forecast["horizon"] == "next_quarter") & (forecast["scope_type"] == "service_type")]
    by_service = dict(zip(q["scope_id"], q["model_amount"], strict=True))
    # bookkeeping: I6 900 + K1's September cycle 270; audit: new business 460; the reference invoices
    # without a contract ('other') have nothing left to collect
    assert by_service == pytest.approx({"bookkeeping": 1170, "audit": 460, "other": 0})


def test_client_risk(warehouse):
    """回款风险客户, as of 2024-06-30 (June is complete: last 3 months Apr–Jun, the 3 before Jan–Mar).

    C1: expects I6 900 in July and K1's September cycle 270 (both carry C1; new business carries no
    client) = 1170; collected nothing in Jan–Jun (its payments are from 2023); I6 900 open, not yet due:
    no risk. C2: collected 1000 in February (P3) and 1200 in April (P4), expects nothing (K2 was a
    one-off) → 0 < (1 − 0.3) × 1200: expected payments shrinking, 1200 at risk.
    """
    rows = h.query(
        warehouse,
        "select client_id, expected_next_3m, collected_last_3m, collected_prior_3m, open_amount, "
        "late_amount, is_late, is_expected_shrinking, is_collections_shrinking, is_at_risk, "
        "amount_at_risk, risk_reason_cn from marts.mart_forecast_client_risk order by client_id",
    )
    assert rows == [
        ("C1", 1170.0, 0.0, 0.0, 900.0, 0.0, False, False, False, False, 0.0, ""),
        ("C2", 0.0, 1200.0, 1000.0, 0.0, 0.0, False, True, False, True, 1200.0, "预计回款较近3个月下降"),
    ]
