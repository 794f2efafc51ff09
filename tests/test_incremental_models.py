"""Incremental models of the ml/forecast domain against a recomputation from scratch.

Renewal model (orchestration/models/renewal.py, TuningCache): hand-made feature rows in a real DuckDB
table (what intermediate.int_contract_renewal_features holds), 3 years of month-end contracts whose
renewal depends on two features, plus a few contracts ending mid-month. Night 1 (2026-11-20) chooses C
by CV twice (the hold-out evaluation's and the published fit's tuning rows) and stores both; night 2
(2026-11-21) gains one closed contract (ended 2026-10-21: its window closed that day), so the nightly
training rows change, but the tuning rows (labels known by the month end before) do not: no CV runs,
and the scores and evaluation equal a run with an empty store bit for bit. A corrected label of an old
contract changes both tuning sets: both CVs run again.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.models import renewal

NIGHT_1 = dt.date(2026, 11, 20)
NIGHT_2 = dt.date(2026, 11, 21)


def _features() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ends = [(s + pd.offsets.MonthEnd(0)).date() for s in pd.date_range("2023-01-01", "2027-03-01", freq="MS")]
    rows = []
    for end in ends:
        for j in range(12):
            rows.append({"end_date": end, "j": j})
    for day in (5, 12, 21, 25):  # mid-month ends of October 2026: windows closing on 11-05 .. 11-25
        rows += [{"end_date": dt.date(2026, 10, day), "j": j} for j in range(3)]
    frame = pd.DataFrame(rows)
    n = len(frame)
    frame["contract_id"] = [f"K{i:04d}" for i in range(n)]
    frame["client_id"] = [f"C{i:04d}" for i in range(n)]
    for col in renewal.CATEGORICAL:
        frame[col] = rng.choice(["a", "b", "c"], n)
    for col in renewal.NUMERIC:
        frame[col] = rng.normal(size=n).round(3)
    months = (pd.to_datetime(frame["end_date"]) - pd.Timestamp("2023-01-01")).dt.days / 30.4
    # renewal falls over time (1.8 → about −0.7 in the logit): the recalibrated model beats the plain one
    logit = 0.8 * frame["overdue_share"] - 1.2 * frame["late_task_share"] + 1.8 - 0.05 * months
    frame[renewal.LABEL] = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame["feature_window_days"] = 300.0
    frame["feedback_observed_days"] = np.where(frame["end_date"] < dt.date(2024, 1, 1), 150.0, 300.0)
    frame["complaints"] = frame["complaints"].abs()
    frame["feature_date"] = frame["end_date"] - dt.timedelta(days=60)
    frame["renewed_before_feature_date"] = False
    frame["is_renewed"] = False
    return frame.drop(columns="j")


def _night(conn: duckdb.DuckDBPyConnection, features: pd.DataFrame, as_of: dt.date):
    """What dbt's int_contract_renewal_features holds on `as_of`, then the renewal step."""
    frame = features.copy()
    frame["renewal_window_closed"] = [d + dt.timedelta(days=30) < as_of for d in frame["end_date"]]
    frame["state_as_of"] = ["active" if d >= as_of else "expired" for d in frame["end_date"]]
    frame[renewal.LABEL] = frame[renewal.LABEL].astype(object).where(frame["renewal_window_closed"], None)
    conn.execute("create schema if not exists intermediate")
    conn.register("night_features", frame)
    conn.execute("create or replace table intermediate.int_contract_renewal_features as from night_features")
    conn.unregister("night_features")
    return renewal.train_and_score(conn, as_of)


@pytest.fixture
def cv_runs(monkeypatch):
    calls = []
    original = renewal._choose_c

    def counted(rows):
        calls.append(len(rows))
        return original(rows)

    monkeypatch.setattr(renewal, "_choose_c", counted)
    return calls


def _from_scratch(path, features, as_of):
    with duckdb.connect(str(path)) as conn:
        return _night(conn, features, as_of)


def _same(got, want):
    for g, w in zip(got, want, strict=True):
        pd.testing.assert_frame_equal(g, w, check_exact=True)


def test_an_unchanged_tuning_set_reuses_c_and_scores_identically(tmp_path, cv_runs):
    features = _features()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        first = _night(conn, features, NIGHT_1)
        assert len(cv_runs) == 2  # the evaluation's and the published fit's tuning rows
        stored = conn.execute("select count(*) from ml.renewal_model_tuning").fetchall()[0][0]
        assert stored == 2
        again = _night(conn, features, NIGHT_1)  # a rerun of the same night
        assert len(cv_runs) == 2
        _same(again, first)
        second = _night(conn, features, NIGHT_2)
        assert len(cv_runs) == 2  # one more closed contract, same tuning rows: no CV
    closed = [
        (d + dt.timedelta(days=30) < NIGHT_2) - (d + dt.timedelta(days=30) < NIGHT_1)
        for d in features["end_date"]
    ]
    assert sum(closed) == 3  # the three contracts ended 2026-10-21 joined the nightly training rows
    assert second[0]["model_name"].iloc[0] == renewal.MODEL_NAME
    assert second[0]["renewal_probability"].between(0, 1).all() and len(second[0]) > 20
    assert not second[0]["renewal_probability"].equals(first[0]["renewal_probability"])  # refitted weights
    _same(second, _from_scratch(tmp_path / "fresh.duckdb", features, NIGHT_2))
    assert len(cv_runs) == 4  # the fresh warehouse had nothing stored


def test_a_changed_training_set_chooses_c_again(tmp_path, cv_runs):
    features = _features()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        _night(conn, features, NIGHT_1)
        assert len(cv_runs) == 2
        corrected = features.copy()
        old = corrected.index[corrected["end_date"] == dt.date(2023, 3, 31)][0]
        corrected.loc[old, renewal.LABEL] = not corrected.loc[old, renewal.LABEL]  # a late correction
        got = _night(conn, corrected, NIGHT_2)
        assert len(cv_runs) == 4  # both tuning sets hold the corrected contract
        kept = conn.execute("select count(*) from ml.renewal_model_tuning").fetchall()[0][0]
        assert kept == 2  # only the entries the night used are kept
    _same(got, _from_scratch(tmp_path / "fresh.duckdb", corrected, NIGHT_2))


def test_tuning_rows_are_the_labels_known_by_the_last_month_end():
    features = _features()
    features["renewal_window_closed"] = [d + dt.timedelta(days=30) < NIGHT_2 for d in features["end_date"]]
    rows = renewal.tuning_rows(renewal._closed(features), NIGHT_2)
    # label date = end + 30 before 2026-11-01: ends up to 2026-10-01 (none that day): September and older
    assert rows["end_date"].max() == dt.date(2026, 9, 30)
    assert len(rows) == 12 * 45  # 45 month ends 2023-01 .. 2026-09, 12 contracts each
    # complaints filled at the tuning rows' own rate: Σ complaints ÷ Σ observed days of these rows
    raw = features.set_index("contract_id").loc[rows["contract_id"]]
    rate = raw["complaints"].sum() / raw["feedback_observed_days"].sum()
    filled = raw["complaints"].to_numpy() + rate * (300.0 - raw["feedback_observed_days"].to_numpy())
    np.testing.assert_allclose(rows["complaints"].to_numpy(), filled)
