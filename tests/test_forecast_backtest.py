"""The collection forecast (dbt, every cutoff in one pass) uses only data known at its cutoff, checked by
perturbing everything after a cutoff in the raw data (demo firm, 300 clients, as of 2026-09-30) and
rebuilding the warehouse: every method's forecast made at that cutoff must not move, while later
forecasts and actuals do."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pandas as pd
import pytest

from orchestration.contract import ENTITIES
from orchestration.demo import generate
from orchestration.loading import load_entity
from tests.dbt_helpers import run_dbt

AS_OF = dt.date(2026, 9, 30)
CUTOFF = dt.date(2026, 6, 30)

# Everything here happens after CUTOFF: payments after it doubled (client-level and those naming an
# invoice, whose excess becomes client credit), invoices issued later removed, contracts signed later
# tripled in fee, contracts in force terminated in August, and invoices issued before the cutoff
# written off or voided in July/August. The last two used to leak: applications were computed once as
# of as_of_date, so a later write-off or invoice payment re-routed money received before the cutoff.
OPEN_BEFORE_CUTOFF = (
    "select invoice_id from raw.invoices where issue_date <= date '2026-06-30'"
    " and due_date > date '2026-05-31' and status in ('open', 'paid') order by invoice_id"
)
PERTURB = [
    "update raw.payments set amount = amount * 2 where paid_date > date '2026-06-30'",
    "delete from raw.invoices where issue_date > date '2026-06-30'",
    "update raw.contracts set fee_per_cycle = fee_per_cycle * 3"
    " where coalesce(signed_date, start_date) > date '2026-06-30'",
    "update raw.contracts set status = 'terminated', updated_at = timestamp '2026-08-10 10:00'"
    " where contract_id in (select contract_id from raw.contracts where start_date <= date '2026-06-30'"
    " and end_date > date '2026-09-30' order by contract_id limit 20)",
    "update raw.invoices set status = 'written_off', updated_at = timestamp '2026-08-20 09:00'"
    f" where invoice_id in ({OPEN_BEFORE_CUTOFF} limit 25)",
    "update raw.invoices set status = 'void', updated_at = timestamp '2026-07-15 09:00'"
    f" where invoice_id in ({OPEN_BEFORE_CUTOFF} offset 25 limit 10)",
]


def _build(tmp, name, perturb):
    path = tmp / name / "warehouse.duckdb"  # the name every dbt test's parsed manifest is for
    path.parent.mkdir()
    shutil.copy(tmp / "loaded.duckdb", path)
    if perturb:
        with duckdb.connect(str(path)) as conn:
            for stmt in PERTURB:
                conn.execute(stmt)
    run_dbt(["build", "--select", "+mart_forecast_backtest_methods", "+mart_forecast_accuracy",
             "--indirect-selection", "cautious"], path, AS_OF.isoformat(), tmp / f"t_{name}")  # fmt: skip
    components = "select * from intermediate.int_forecast_components where cutoff_date = ? order by all"
    with duckdb.connect(str(path), read_only=True) as conn:
        return {
            "cutoff": conn.execute(components, [CUTOFF]).df(),
            "predictions": conn.execute(
                "select * from intermediate.int_forecast_predictions where cutoff_date = ? order by all",
                [CUTOFF],
            ).df(),
            "later": conn.execute(components, [dt.date(2026, 8, 31)]).df(),
            "backtest": conn.execute("select * from marts.mart_forecast_backtest_methods order by all").df(),
            "accuracy": conn.execute("select * from marts.mart_forecast_accuracy order by method").df(),
        }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forecast_demo")
    generate(tmp / "raw", AS_OF, seed=7, clients=300, months=24)
    with duckdb.connect(str(tmp / "loaded.duckdb")) as conn:
        for entity in ENTITIES:
            load_entity(conn, entity, tmp / "raw", load_id="test", as_of_date=AS_OF)
    return _build(tmp, "base", False), _build(tmp, "perturbed", True)


def test_forecast_at_cutoff_ignores_later_data(runs):
    base, perturbed = runs
    pd.testing.assert_frame_equal(base["cutoff"], perturbed["cutoff"], rtol=1e-9)
    pd.testing.assert_frame_equal(base["predictions"], perturbed["predictions"], rtol=1e-9)
    assert base["cutoff"]["amount"].sum() > 0
    assert set(base["predictions"]["method"]) == {"model", "last_month", "trailing_3m_mean", "seasonal_trend"}


def test_perturbation_is_visible_after_the_cutoff(runs):
    base, perturbed = runs
    # a forecast made later sees the changes (so the comparison above could fail)
    assert not base["later"]["amount"].sum() == pytest.approx(perturbed["later"]["amount"].sum(), rel=1e-6)
    b = base["backtest"].set_index(["period", "method"])
    p = perturbed["backtest"].set_index(["period", "method"])
    # backtest months whose cutoff is on or before CUTOFF keep every method's forecast; actuals after it move
    for period in ("2025-10", "2026-03", "2026-07"):
        for method in ("model", "last_month", "trailing_3m_mean", "seasonal_trend"):
            assert b.loc[(period, method), "forecast_amount"] == p.loc[
                (period, method), "forecast_amount"
            ] or (
                pd.isna(b.loc[(period, method), "forecast_amount"])
                and pd.isna(p.loc[(period, method), "forecast_amount"])
            )
    assert b.loc[("2026-08", "model"), "forecast_amount"] != p.loc[("2026-08", "model"), "forecast_amount"]
    assert (
        b.loc[("2026-09", "last_month"), "forecast_amount"]
        != p.loc[("2026-09", "last_month"), "forecast_amount"]
    )
    assert b.loc[("2026-08", "model"), "actual_amount"] != p.loc[("2026-08", "model"), "actual_amount"]


def test_backtest_shape_and_published_method(runs):
    base, _ = runs
    bt = base["backtest"]
    model = bt[bt["method"] == "model"]
    assert list(model["period"]) == [f"{y}-{m:02d}" for y, m in [(2025, 10), (2025, 11), (2025, 12)]] + [
        f"2026-{m:02d}" for m in range(1, 10)
    ]
    assert (model["cutoff_date"].map(lambda d: d.day == 1) == False).all()  # noqa: E712 - month ends
    mape = ((model["actual_amount"] - model["forecast_amount"]).abs() / model["actual_amount"]).mean()
    assert mape < 0.25  # the demo firm is regular: the method should be well within this
    acc = base["accuracy"].set_index("method")
    assert acc.loc["model", "mape"] == pytest.approx(mape)
    # the published method's MAPE is no worse than any naive method's that forecast every month
    chosen = acc[acc["is_chosen"]]
    assert len(chosen) == 1
    assert chosen["mape"].iloc[0] <= acc[acc["is_naive"] & acc["is_eligible"]]["mape"].min()
