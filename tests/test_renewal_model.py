"""The renewal model on demo data (300 clients, as of 2026-09-30): beats a constant predictor on the
time-based hold-out, is deterministic, and fills mart_model_evaluation / mart_renewal_scores."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from orchestration.contract import ENTITIES
from orchestration.demo import generate
from orchestration.loading import load_entity
from orchestration.models import renewal
from orchestration.models.ml_tables import write_table
from tests.dbt_helpers import run_dbt

AS_OF = dt.date(2026, 9, 30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("renewal_demo")
    generate(tmp / "raw", AS_OF, seed=7, clients=300, months=24)
    path = tmp / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        for entity in ENTITIES:
            load_entity(conn, entity, tmp / "raw", load_id="test", as_of_date=AS_OF)
    run_dbt(
        ["build", "--select", "+int_contract_renewal_features", "--indirect-selection", "cautious"],
        path, AS_OF.isoformat(), tmp / "t1",
    )  # fmt: skip
    with duckdb.connect(str(path)) as conn:
        scores, evaluation = renewal.train_and_score(conn, AS_OF)
        again = renewal.train_and_score(conn, AS_OF)
        write_table(conn, "renewal_scores", scores)
        write_table(conn, "renewal_model_evaluation", evaluation)
    run_dbt(["build", "--select", "mart_model_evaluation", "mart_renewal_scores"], path, AS_OF.isoformat(),
            tmp / "t2")  # fmt: skip
    conn = duckdb.connect(str(path), read_only=True)
    yield {"conn": conn, "scores": scores, "evaluation": evaluation, "again": again}
    conn.close()


def _metric(conn, model, metric):
    return conn.execute(
        "select value from marts.mart_model_evaluation where model_name = ? and metric = ? and bin is null",
        [model, metric],
    ).fetchone()[0]


def test_model_beats_constant_predictor_on_holdout(demo):
    conn = demo["conn"]
    model_brier = _metric(conn, renewal.MODEL_NAME, "brier")
    const_brier = _metric(conn, renewal.BASELINE_NAME, "brier")
    assert model_brier < const_brier
    assert _metric(conn, renewal.MODEL_NAME, "auc") > 0.6
    assert _metric(conn, renewal.BASELINE_NAME, "auc") == 0.5
    assert _metric(conn, renewal.MODEL_NAME, "n_test") >= 50


def test_evaluation_mart_filled_with_calibration_deciles(demo):
    conn = demo["conn"]
    bins = conn.execute(
        "select bin, count(*) from marts.mart_model_evaluation where metric like 'calibration_%'"
        " group by bin order by bin"
    ).fetchall()
    assert bins == [(b, 3) for b in range(1, 11)]
    n_test = _metric(conn, renewal.MODEL_NAME, "n_test")
    counted = conn.execute(
        "select sum(value) from marts.mart_model_evaluation where metric = 'calibration_count'"
    ).fetchone()[0]
    assert counted == n_test
    # the hold-out holds every recurring contract whose 30-day window closed since the cutoff
    expected = conn.execute(
        "select count(*) from core.dim_contracts where billing_cycle <> 'one_off' and renewal_window_closed"
        " and end_date + 30 >= date '2026-03-30' and start_date <= date '2026-09-30'"
    ).fetchone()[0]
    assert n_test == expected


def test_scores_cover_contracts_ending_within_180_days(demo):
    conn = demo["conn"]
    expected = conn.execute(
        "select count(*) from core.dim_contracts where is_in_force and billing_cycle <> 'one_off'"
        " and end_date between date '2026-09-30' and date '2026-09-30' + 180"
    ).fetchone()[0]
    rows = conn.execute(
        "select count(*), min(renewal_probability), max(renewal_probability) from marts.mart_renewal_scores"
    ).fetchone()
    assert rows[0] == expected > 0
    assert 0 <= rows[1] < rows[2] <= 1


def test_training_is_deterministic(demo):
    scores, evaluation = demo["again"]
    assert scores.equals(demo["scores"])
    assert evaluation.equals(demo["evaluation"])
