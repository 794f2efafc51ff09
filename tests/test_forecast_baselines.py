"""The forecast's naive baselines, the method choice and short / old histories, on hand-made firms
whose every number is worked out by hand below.

One client, no contracts; each month one invoice issued on the 5th and paid in full on the 10th, so
the month's collections are the invoice amounts below and nothing is open at any month end: the
components model forecasts 0 every month (MAPE 100 %), and a naive method must win.

Firm "long" (as of 2025-06-30), collections by month:
  2024: Jan–Mar 100, Apr–Jun 200, Jul–Sep 300, Oct–Dec 400;  2025: Jan–Mar 200, Apr–Jun 400.
Backtest months Jul 2024 – Jun 2025 (12), actual Σ = 3,900.
  last_month (actual of m−1): 200 300 300 300 400 400 400 200 200 200 400 400
    |err| ÷ actual: 1/3, 0, 0, 1/4, 0, 0, 1, 0, 0, 1/2, 0, 0 → MAPE 2.08333 / 12 = 0.173611;
    WAPE (100 + 100 + 200 + 200) / 3,900 = 0.153846; bias (−100 − 100 + 200 − 200) / 3,900 = −0.051282.
  trailing_3m_mean: 200, 233.33, 266.67, 300, 333.33, 366.67, 400, 333.33, 266.67, 200, 266.67, 333.33
    |err| ÷ actual: 1/3, 2/9, 1/9, 1/4, 1/6, 1/12, 1, 2/3, 1/3, 1/2, 1/3, 1/6 → MAPE 4.16667 / 12 = 0.347222.
  seasonal_trend: no month a year before Jul–Dec 2024 → no forecast (6 of 12 months: not eligible);
    Jan 2025: 100 × 1 (no year-over-year pair yet) = 100; Feb–Jun: trend 2 (e.g. May: (200 × 3 + 400)
    ÷ (100 × 3 + 200)) → 200, 200, 400, 400, 400: MAPE over its 6 months 0.5 / 6 = 0.083333.
  model: 0 every month → MAPE 1, WAPE 1, bias −1.
  → published: last_month (the lowest MAPE among the methods that forecast all 12 months).
Forecast on 2025-06-30 (a month end: no rest of month): last_month 400 a month, next quarter
(Jul–Sep) 1,200; trailing 3-month mean (400 + 400 + 400) / 3 = 400; seasonal: trend (Jan–Jun 2025 vs
2024) 1,800 / 900 = 2 → Jul 300 × 2 = 600. Band: 80th percentile of last_month's |a − f| ÷ f over
the 12 months (eight 0, 1/3, 1/2, 1/2, 1; position 8.8) = 1/3 + 0.8 × 1/6 = 0.466667.

Firm "young": the 2025 half only (6 months of history). Backtest months Feb–Jun 2025 (5: January's
cutoff has no complete month behind it). last_month 200 200 200 400 400 vs 200 200 400 400 400 →
MAPE 0.5 / 5 = 0.1, WAPE 200 / 1,600 = 0.125, bias −0.125; trailing: 200, 200, 200, 266.67,
333.33 → MAPE (0.5 + 1/3 + 1/6) / 5 = 0.2;
seasonal: nothing a year before → no forecast; published last_month, backtest_months 5.

Firm "mid": firm "long" seen on 2025-06-20, June's invoice 150 paid on the 10th. Backtest months
Jun 2024 – May 2025: last_month still wins (MAPE 2.08333 / 12; trailing 4.16667 / 12: June 2024's
errors 0 and 1/6 replace June 2025's). Rest of June (06-21..06-30) = June as forecast at May's end
by last_month (400) − 150 collected since the 1st = 250; the model's 0 − 150 floors at 0; next
month (July) by last_month = May's 400.

Forecast deviation alert (int_alerts_current, var forecast_deviation_threshold = 0.10, > is a deviation):
firm "long" with June 2025's collections changed; last_month still has the lowest MAPE.
  "dip": June 300 → forecast (May) 400, |300 − 400| ÷ 300 = 33.3 % > 10 %: one alert for 2025-06,
    ¥100 at stake, worsening (33.3 % > 2 × 10 %). (last_month MAPE (2.08333 + 1/3) / 12 = 0.201389;
    trailing (4.16667 − 1/6 + 1/9) / 12 = 0.342593.)
  "near": June 440 → |440 − 400| ÷ 440 = 9.09 % ≤ 10 %: no alert, though the month is off.
    (last_month (2.08333 + 0.090909) / 12 = 0.181187; trailing: June 333.33 vs 440 → 0.242424.)

Firm "old": firm "long" moved back 12 years (history from January 2012, as of 2013-06-30; 2012 is a
leap year like 2024): the same marts, shifted, and a calendar that starts in 2012.
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

from tests import dbt_helpers as h

LONG = {
    (2024, m): a for m, a in zip(range(1, 13), [100] * 3 + [200] * 3 + [300] * 3 + [400] * 3, strict=True)
}
LONG |= {(2025, m): a for m, a in zip(range(1, 7), [200] * 3 + [400] * 3, strict=True)}
YOUNG = {k: v for k, v in LONG.items() if k[0] == 2025}
OLD = {(y - 12, m): v for (y, m), v in LONG.items()}
FIRMS = {
    "long": (LONG, dt.date(2025, 6, 30)),
    "young": (YOUNG, dt.date(2025, 6, 30)),
    "old": (OLD, dt.date(2013, 6, 30)),
    "mid": (LONG | {(2025, 6): 150}, dt.date(2025, 6, 20)),
}
ALERT_FIRMS = {
    "dip": (LONG | {(2025, 6): 300}, dt.date(2025, 6, 30)),
    "near": (LONG | {(2025, 6): 440}, dt.date(2025, 6, 30)),
}
MARTS = ["mart_collection_forecast", "mart_forecast_backtest", "mart_forecast_backtest_methods",
         "mart_forecast_accuracy", "dim_date", "mart_tax_calendar"]  # fmt: skip


def _build(tmp, series, as_of, marts=MARTS):
    path = tmp / "warehouse.duckdb"
    ts = dt.datetime.combine(as_of, dt.time(20))
    conn = h.new_raw_warehouse(path)
    first = min(series)
    h.insert_rows(conn, "staff", [h.accountant_row(updated_at=ts)])
    h.insert_rows(
        conn, "clients", [h.client_row("C1", "甲公司", updated_at=ts, signed_date=dt.date(*first, 1))]
    )
    invoices, payments = [], []
    for (y, m), amount in sorted(series.items()):
        iid = f"I{y}{m:02d}"
        invoices.append(
            h.invoice_row(iid, "C1", f"{y}-{m:02d}-05", f"{y}-{m:02d}-20", f"{amount}.00", updated_at=ts)
        )
        payments.append(h.payment_row(f"P{y}{m:02d}", f"{y}-{m:02d}-10", f"{amount}.00", updated_at=ts,
                                    invoice_id=iid, client_id="C1"))  # fmt: skip
    h.insert_rows(conn, "invoices", invoices)
    h.insert_rows(conn, "payments", payments)
    conn.close()
    select = [f"+{m}" for m in marts]
    h.run_dbt(
        ["build", "--select", *select, "--indirect-selection", "cautious"], path, as_of.isoformat(), tmp / "t"
    )
    return duckdb.connect(str(path), read_only=True)


@pytest.fixture(scope="module")
def firms(tmp_path_factory):
    conns = {name: _build(tmp_path_factory.mktemp(name), s, a) for name, (s, a) in FIRMS.items()}
    yield conns
    for c in conns.values():
        c.close()


@pytest.fixture(scope="module")
def alert_firms(tmp_path_factory):
    marts = ["mart_forecast_accuracy", "mart_forecast_backtest", "int_alerts_current"]
    conns = {n: _build(tmp_path_factory.mktemp(n), s, a, marts) for n, (s, a) in ALERT_FIRMS.items()}
    yield conns
    for c in conns.values():
        c.close()


def _deviation_alerts(conn):
    return conn.execute(
        "select entity_id, message, amount_at_stake, is_worsening from intermediate.int_alerts_current"
        " where alert_type = 'collection_forecast_deviation'"
    ).fetchall()


def test_forecast_deviation_alert_above_the_threshold(alert_firms):
    acc = _accuracy(alert_firms["dip"])
    assert acc["last_month"][2] == pytest.approx(0.201389, abs=1e-6)
    assert acc["trailing_3m_mean"][2] == pytest.approx(0.342593, abs=1e-6)
    assert [m for m, r in acc.items() if r[6]] == ["last_month"]
    assert _deviation_alerts(alert_firms["dip"]) == [
        ("2025-06", "2025-06 实际回款 ¥300.00 与预测 ¥400.00 偏差 33.3%，超过阈值", 100.0, True)
    ]


def test_no_forecast_deviation_alert_within_the_threshold(alert_firms):
    acc = _accuracy(alert_firms["near"])
    assert acc["last_month"][2] == pytest.approx(0.181187, abs=1e-6)
    assert [m for m, r in acc.items() if r[6]] == ["last_month"]
    latest = (
        alert_firms["near"]
        .execute(
            "select period, forecast_amount, actual_amount, abs_pct_error, is_deviation"
            " from marts.mart_forecast_backtest where is_latest_month"
        )
        .fetchone()
    )
    assert latest == pytest.approx(("2025-06", 400, 440, 0.090909, False), abs=1e-6)
    assert _deviation_alerts(alert_firms["near"]) == []


def _accuracy(conn):
    rows = conn.execute(
        "select method, backtest_months, forecast_months, mape, wape, bias, is_eligible, is_chosen"
        " from marts.mart_forecast_accuracy order by method"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_long_history_scores_every_method_by_hand(firms):
    acc = _accuracy(firms["long"])
    assert acc["last_month"][:6] == pytest.approx((12, 12, 0.173611, 0.153846, -0.051282, True), abs=1e-6)
    assert acc["trailing_3m_mean"][:3] == pytest.approx((12, 12, 0.347222), abs=1e-6)
    assert acc["seasonal_trend"][:3] == pytest.approx((12, 6, 0.083333), abs=1e-6)
    assert acc["seasonal_trend"][5] is False  # forecast only 6 of the 12 months: not compared
    assert acc["model"][:6] == pytest.approx((12, 12, 1.0, 1.0, -1.0, True))
    assert [m for m, r in acc.items() if r[6]] == ["last_month"]


def test_long_history_per_month_forecasts(firms):
    rows = (
        firms["long"]
        .execute(
            "select period, method, forecast_amount, actual_amount from marts.mart_forecast_backtest_methods"
            " where method in ('last_month', 'trailing_3m_mean', 'seasonal_trend') order by method, period"
        )
        .fetchall()
    )
    by = {}
    for period, method, forecast, actual in rows:
        by.setdefault(method, []).append((period, forecast, actual))
    assert [p for p, _, _ in by["last_month"]] == [f"2024-{m:02d}" for m in range(7, 13)] + [
        f"2025-{m:02d}" for m in range(1, 7)
    ]
    assert [f for _, f, _ in by["last_month"]] == [200, 300, 300, 300, 400, 400, 400, 200, 200, 200, 400, 400]
    assert [a for _, _, a in by["last_month"]] == [300, 300, 300, 400, 400, 400, 200, 200, 200, 400, 400, 400]
    assert [f for _, f, _ in by["trailing_3m_mean"]] == pytest.approx(
        [200, 233.33, 266.67, 300, 333.33, 366.67, 400, 333.33, 266.67, 200, 266.67, 333.33], abs=0.01
    )
    assert [f for _, f, _ in by["seasonal_trend"]] == [None] * 6 + [100, 200, 200, 400, 400, 400]


def test_published_forecast_is_the_winning_naive_method(firms):
    rows = (
        firms["long"]
        .execute(
            "select horizon, period_type, method, is_naive_method, expected_amount, model_amount,"
            " last_month_amount, trailing_3m_amount, seasonal_amount, band_pct, low_amount, high_amount"
            " from marts.mart_collection_forecast where scope_type = 'firm' order by period_start, horizon"
        )
        .fetchall()
    )
    got = {r[0]: r[1:] for r in rows}
    assert set(got) == {"month_1", "month_2", "month_3", "next_quarter"}  # as_of is a month end
    assert got["month_1"][:8] == pytest.approx(("month", "last_month", True, 400, 0, 400, 400, 600))
    assert got["next_quarter"][:8] == pytest.approx(
        ("quarter", "last_month", True, 1200, 0, 1200, 1200, 1800)
    )
    assert got["month_1"][8:] == pytest.approx((0.466667, 213.33, 586.67), abs=1e-5)  # amounts to the cent
    published = (
        firms["long"]
        .execute(
            "select count(*), min(method), max(mape_last_12m), max(backtest_months)"
            " from marts.mart_forecast_backtest"
        )
        .fetchone()
    )
    assert published == pytest.approx((12, "last_month", 0.173611, 12), abs=1e-6)
    # the deviation flag (> 10 % off) marks the four months last_month missed; the latest is not one
    deviations = (
        firms["long"]
        .execute(
            "select list(period order by period), bool_or(is_latest_month) from marts.mart_forecast_backtest"
            " where is_deviation"
        )
        .fetchone()
    )
    assert deviations == (["2024-07", "2024-10", "2025-01", "2025-04"], False)


def test_six_months_of_history_backtests_what_exists(firms):
    acc = _accuracy(firms["young"])
    assert acc["last_month"][:5] == pytest.approx((5, 5, 0.1, 0.125, -0.125), abs=1e-6)
    assert acc["trailing_3m_mean"][:3] == pytest.approx((5, 5, 0.2), abs=1e-6)
    assert acc["seasonal_trend"][1] == 0 and acc["seasonal_trend"][5] is False
    assert [m for m, r in acc.items() if r[6]] == ["last_month"]
    months = firms["young"].execute(
        "select min(period), max(backtest_months) from marts.mart_forecast_backtest"
    )
    assert months.fetchone() == ("2025-02", 5)


def _shift(value, years):
    """Dates and 'YYYY-MM…' texts moved by `years`; floats rounded (sums in another order)."""
    if isinstance(value, dt.date):
        return value.replace(year=value.year + years)
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}", value):
        return f"{int(value[:4]) + years}{value[4:]}"
    if isinstance(value, float):
        return round(value, 9)
    return value


@pytest.mark.parametrize("mart", MARTS[:4])
def test_history_from_2012_gives_the_same_marts_shifted(firms, mart):
    def rows(conn, shift):
        out = conn.execute(f"select * from marts.{mart}").fetchall()
        return sorted(tuple(_shift(v, 12 if shift else 0) for v in r) for r in out)

    recent, old = rows(firms["long"], False), rows(firms["old"], True)
    assert old == recent and len(recent) > 0


def test_calendar_spans_the_data(firms):
    first = firms["old"].execute("select min(date_day), count(distinct year) from core.dim_date").fetchone()
    assert first == (dt.date(2012, 1, 1), 3)  # 2012, 2013 and as_of + 400 days in 2014
    deadlines = (
        firms["old"]
        .execute(
            "select count(distinct month_tax_deadline), min(month_tax_deadline_source),"
            " max(month_tax_deadline_source)"
            " from core.dim_date where year = 2012"
        )
        .fetchone()
    )
    assert deadlines == (12, "weekday_rule", "weekday_rule")
    # 2012-01-15 was a Sunday: the first workday on or after the 15th is Monday the 16th
    jan = firms["old"].execute(
        "select month_tax_deadline from core.dim_date where date_day = date '2012-01-01'"
    )
    assert jan.fetchone()[0] == dt.date(2012, 1, 16)


def test_tax_calendar_spans_a_2012_history(firms):
    """The 征期日历 starts with the data (no 2022 floor); months before the deadline seeds (2020 on) are
    estimates marked 'weekday_rule'; the build ran the mart's accepted_values and official-where-published
    tests on them (a failing test fails the fixture)."""
    rows = (
        firms["old"]
        .execute(
            "select period, deadline, deadline_source, deadline_source_cn, is_passed"
            " from marts.mart_tax_calendar order by period"
        )
        .fetchall()
    )
    # 2012-01 … as of 2013-06 + 3 months = 2013-09: 21 months, all before the seeds
    assert [r[0] for r in rows] == [f"{y}-{m:02d}" for y in (2012, 2013) for m in range(1, 13)][:21]
    assert {(r[2], r[3]) for r in rows} == {("weekday_rule", "估算（未计节假日）")}
    got = {r[0]: (r[1], r[4]) for r in rows}
    assert got["2012-01"] == (dt.date(2012, 1, 16), True)  # the 15th a Sunday → Monday
    assert got["2012-09"] == (dt.date(2012, 9, 17), True)  # the 15th a Saturday → Monday the 17th
    assert got["2013-05"] == (dt.date(2013, 5, 15), True)  # a Wednesday
    assert got["2013-09"] == (dt.date(2013, 9, 16), False)  # the 15th a Sunday; after as_of


def test_mid_month_forecasts_the_rest_of_the_month(firms):
    rows = (
        firms["mid"]
        .execute(
            "select horizon, period_start, period_end, is_partial_period, method, month_to_date_amount,"
            " last_month_amount, model_amount, expected_amount"
            " from marts.mart_collection_forecast where scope_type = 'firm' order by period_start, horizon"
        )
        .fetchall()
    )
    got = {r[0]: r[1:] for r in rows}
    assert got["rest_of_month"] == (
        dt.date(2025, 6, 21),
        dt.date(2025, 6, 30),
        True,
        "last_month",
        150,
        250,
        0,
        250,
    )
    assert got["month_1"][:2] == (dt.date(2025, 7, 1), dt.date(2025, 7, 31))
    assert got["month_1"][3:] == ("last_month", None, 400, 0, 400)
    assert got["next_quarter"][:2] == (dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    acc = _accuracy(firms["mid"])
    assert acc["last_month"][:3] == pytest.approx((12, 12, 2.083333 / 12), abs=1e-6)
    assert acc["trailing_3m_mean"][2] == pytest.approx(4.166667 / 12, abs=1e-6)
