"""The renewal model on demo data (300 clients, as of 2026-09-30): the published model (lowest hold-out
Brier among the calibrated model, a plain logistic regression and the constant rate) beats the
constant on the time-ordered hold-out, is deterministic, and fills mart_model_evaluation /
mart_renewal_scores."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from orchestration.contract import ENTITIES
from orchestration.demo import generate
from orchestration.loading import load_entity
from orchestration.models import ml_tables, renewal
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
        scores, evaluation = renewal.train_and_score(conn, AS_OF)  # the direct entry point
        again = renewal.train_and_score(conn, AS_OF)
    # the night's way: the renewal model's dbt Python models (models/ml) build ml.* in the marts' build;
    # mart_renewal_scores publishes int_renewal_scores (the scores with their labels)
    marts = ["renewal_model_evaluation", "renewal_scores", "mart_model_evaluation", "int_renewal_scores",
             "mart_renewal_scores", "mart_model_comparison", "mart_model_reliability"]  # fmt: skip
    run_dbt(["build", "--select", *marts], path, AS_OF.isoformat(), tmp / "t2")
    conn = duckdb.connect(str(path), read_only=True)
    yield {"conn": conn, "scores": scores, "evaluation": evaluation, "again": again}
    conn.close()


def _metric(conn, model, metric):
    return conn.execute(
        "select value from marts.mart_model_evaluation where model_name = ? and metric = ? and bin is null",
        [model, metric],
    ).fetchone()[0]


def _published(conn):
    return conn.execute(
        "select model_name from marts.mart_model_evaluation where metric = 'is_published' and value = 1"
    ).fetchone()[0]


def test_model_beats_constant_predictor_on_holdout(demo):
    conn = demo["conn"]
    published = _published(conn)
    assert published in (renewal.MODEL_NAME, renewal.PLAIN_NAME)
    const_brier = _metric(conn, renewal.BASELINE_NAME, "brier")
    assert _metric(conn, published, "brier") < const_brier
    assert _metric(conn, published, "brier") == min(
        _metric(conn, m, "brier") for m in (renewal.MODEL_NAME, renewal.PLAIN_NAME, renewal.BASELINE_NAME)
    )
    assert _metric(conn, published, "auc") > 0.6
    assert _metric(conn, renewal.BASELINE_NAME, "auc") == 0.5
    assert _metric(conn, published, "n_test") >= 50
    gap = _metric(conn, published, "calibration_gap")
    assert gap == pytest.approx(
        _metric(conn, published, "mean_predicted") - _metric(conn, published, "observed_rate")
    )
    assert set(demo["scores"]["model_name"]) == {published}


def test_evaluation_mart_filled_with_calibration_deciles(demo):
    conn = demo["conn"]
    bins = conn.execute(
        "select bin, count(*) from marts.mart_model_evaluation where metric like 'calibration_%'"
        " and bin is not null group by bin order by bin"
    ).fetchall()
    assert bins == [(b, 3) for b in range(1, 11)]
    n_test = _metric(conn, renewal.MODEL_NAME, "n_test")
    counted = conn.execute(
        "select sum(value) from marts.mart_model_evaluation where metric = 'calibration_count'"
    ).fetchone()[0]
    assert counted == n_test
    # the hold-out holds every recurring contract whose 30-day window closed since the cutoff
    # (as_of 2026-09-30 − 12 months: this firm has labels older than that)
    expected = conn.execute(
        "select count(*) from core.dim_contracts where billing_cycle <> 'one_off' and renewal_window_closed"
        " and end_date + 30 >= date '2025-09-30' and start_date <= date '2026-09-30'"
    ).fetchone()[0]
    assert set(demo["evaluation"]["cutoff_date"]) == {dt.date(2025, 9, 30)}
    assert n_test == expected


def test_scores_cover_contracts_ending_within_180_days(demo):
    conn = demo["conn"]
    expected = conn.execute(
        "select count(*) from core.dim_contracts where is_in_force and billing_cycle <> 'one_off'"
        " and renewed_by_contract_id is null"
        " and end_date between date '2026-09-30' and date '2026-09-30' + 180"
    ).fetchone()[0]
    rows = conn.execute(
        "select count(*), min(renewal_probability), max(renewal_probability) from marts.mart_renewal_scores"
    ).fetchone()
    assert rows[0] == expected > 0
    assert 0 <= rows[1] < rows[2] <= 1


def test_dbt_python_models_equal_the_direct_entry_point(demo):
    """ml.* as the night's dbt Python models built them = train_and_score's frames cast to the declared
    columns; each model kept its tuning entries (TuningCache users)."""
    conn = demo["conn"]
    for name, key in (("renewal_scores", "scores"), ("renewal_model_evaluation", "evaluation")):
        built = conn.execute(f"select * from ml.{name}").fetchall()
        direct = ml_tables.typed(conn, name, demo[key])
        assert len(built) > 0
        assert sorted(map(repr, built)) == sorted(map(repr, direct.fetchall())), name
    users = conn.execute("select used_by, count(*) from ml.renewal_model_tuning group by all order by 1")
    assert users.fetchall() == [(renewal.EVALUATION_USER, 1), (renewal.SCORES_USER, 1)]


def test_training_is_deterministic(demo):
    scores, evaluation = demo["again"]
    assert scores.equals(demo["scores"])
    assert evaluation.equals(demo["evaluation"])


def test_comparison_and_reliability_marts_pivot_the_evaluation(demo):
    conn = demo["conn"]
    ev = demo["evaluation"]
    plain = ev[ev["bin"].isna()]
    rows = conn.execute(
        "select model_name, is_published, auc, brier, mean_predicted, observed_rate, calibration_gap,"
        " observed_rate_ci95, n_train, n_test from marts.mart_model_comparison order by model_name"
    ).fetchall()
    assert [r[0] for r in rows] == sorted(set(plain["model_name"]))
    for name, published, *values in rows:
        got = dict(zip(["auc", "brier", "mean_predicted", "observed_rate", "calibration_gap",
                        "observed_rate_ci95", "n_train", "n_test"], values, strict=True))  # fmt: skip
        want = plain[plain["model_name"] == name].set_index("metric")["value"]
        assert got == pytest.approx({k: want[k] for k in got})
        assert published == (want["is_published"] == 1)
        assert isinstance(got["n_test"], int)
    bins = conn.execute(
        "select bin, mean_predicted, observed_rate, contracts from marts.mart_model_reliability order by bin"
    ).fetchall()
    table = ev[ev["bin"].notna()].pivot(index="bin", columns="metric", values="value")
    assert [b[0] for b in bins] == list(range(1, 11))
    want = table[["calibration_mean_predicted", "calibration_observed_rate", "calibration_count"]]
    assert [v for b in bins for v in b[1:]] == pytest.approx(want.to_numpy().ravel().tolist())


def test_comparison_states_whether_the_calibration_target_is_met(demo):
    """mart_model_comparison flags each candidate's hold-out gap against the 3-point target (dbt var
    renewal_calibration_target) and the hold-out rate's sampling noise; the numbers are the Python
    evaluation's, recomputed here from its long-format rows."""
    ev = demo["evaluation"]
    plain = ev[ev["bin"].isna()].pivot(index="model_name", columns="metric", values="value")
    rows = (
        demo["conn"]
        .execute(
            "select model_name, calibration_target, meets_calibration_target, gap_within_sampling_noise"
            " from marts.mart_model_comparison order by model_name"
        )
        .fetchall()
    )
    assert len(rows) == 3
    for name, target, meets, within in rows:
        gap = plain.loc[name, "mean_predicted"] - plain.loc[name, "observed_rate"]
        assert target == 0.03
        assert meets == (abs(gap) <= 0.03)
        assert within == (
            abs(gap)
            <= 1.96
            * (
                plain.loc[name, "observed_rate"]
                * (1 - plain.loc[name, "observed_rate"])
                / plain.loc[name, "n_test"]
            )
            ** 0.5
        )


def test_feedback_observed_days_count_the_feature_window_the_export_covers(demo):
    """Recomputed in pandas from the loaded feedback rows: the days between the contract's start (or the
    feedback export's first date, if later) and its feature date; the demo's feedback starts a year
    after its contracts, so both full and partial windows occur."""
    conn = demo["conn"]
    first = pd.Timestamp(conn.execute("select min(feedback_date) from core.fct_feedback").fetchone()[0])
    f = conn.execute("select * from intermediate.int_contract_renewal_features").df()
    start, feature = pd.to_datetime(f["start_date"]), pd.to_datetime(f["feature_date"])
    window = (feature - start).dt.days
    observed = (feature - start.clip(lower=first)).dt.days.clip(lower=0)
    assert f["feature_window_days"].tolist() == window.tolist()
    assert f["feedback_observed_days"].tolist() == observed.tolist()
    partial = (observed > 0) & (observed < window)
    assert (observed == 0).any() and (observed == window).any() and partial.any()
