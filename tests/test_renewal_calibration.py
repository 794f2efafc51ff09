"""Renewal-model calibration on a hand-made feature table whose answer is known (no dbt: the rows are
what intermediate.int_contract_renewal_features would hold), as of 2026-11-20, hold-out cutoff
2025-11-20 (12 months). Every contract looks the same (identical features), so a model can only learn a rate:

  old training rows      100 contracts ending 2022-07 .. 2024-02, 90 renewed (90 %)
  recent training rows    50 contracts ending 2025-05 .. 2025-09 (label matured in the 12 months
                          before the cutoff: 2025-06-30 .. 10-30), 30 renewed (60 %)
  hold-out                40 contracts ending 2026-04 .. 2026-08 (window closed by as_of), 24 renewed (60 %)
  not yet mature           5 contracts ending 2026-10-31: window open until 11-30 > as_of, no outcome yet
  to score                 3 contracts in force ending 2026-12-31

Training rate = 120 / 150 = 80 %. The calibrated model's intercept is re-estimated on the recent
window → 60 % for every contract: hold-out gap 0, Brier 0.6 × 0.4² + 0.4 × 0.6² = 0.24; the constant
(and the plain regression, which has nothing but an intercept to fit) say 80 %: gap +20 points,
Brier 0.6 × 0.2² + 0.4 × 0.8² = 0.28. Sampling noise of the hold-out rate: 1.96 × √(0.24 / 40) = 0.151821.
The immature contracts are in neither the training rows nor the hold-out (n_train 150, n_test 40).
Scored on as_of, the recent window is the hold-out's 40 labels (60 %) → 0.6 each.

A young firm (only the hold-out's 40 contracts and the 50 "recent" ones moved to 2025-12 .. 2026-03):
a 12-month split would leave no training row, so the split falls back to 6 months (cutoff 2026-05-20):
50 training rows, 40 in the hold-out.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from orchestration.models import renewal

AS_OF = dt.date(2026, 11, 20)


def _month_ends(first: str, n: int) -> list[dt.date]:
    """n month ends from `first` (YYYY-MM) on, cycling through the months up to n."""
    starts = pd.date_range(f"{first}-01", periods=n, freq="MS")
    return [(s + pd.offsets.MonthEnd(0)).date() for s in starts]


def _rows(ends: list[dt.date], renewed: int, closed: bool = True, state: str = "expired") -> list[dict]:
    out = []
    for i, end in enumerate(ends):
        row = {c: "x" for c in renewal.CATEGORICAL} | {c: 1.0 for c in renewal.NUMERIC}
        row |= {
            "feature_window_days": 300.0,
            "feedback_observed_days": 300.0,  # fully observed: nothing to fill in
            "end_date": end,
            "feature_date": end - dt.timedelta(days=60),
            "renewal_window_closed": closed,
            "renewed_before_feature_date": False,
            renewal.LABEL: i < renewed,
            "state_as_of": state,
            "is_renewed": False,
        }
        out.append(row)
    return out


def _cycle(first: str, months: int, n: int) -> list[dt.date]:
    ends = _month_ends(first, months)
    return [ends[i % months] for i in range(n)]


@pytest.fixture(scope="module")
def features():
    rows = (
        _rows(_cycle("2022-07", 20, 100), 90)
        + _rows(_cycle("2025-05", 5, 50), 30)
        + _rows(_cycle("2026-04", 5, 40), 24)
        + _rows([dt.date(2026, 10, 31)] * 5, 0, closed=False)
        + _rows([dt.date(2026, 12, 31)] * 3, 0, closed=False, state="active")
    )
    frame = pd.DataFrame(rows)
    frame.insert(0, "contract_id", [f"K{i:03d}" for i in range(len(frame))])
    frame.insert(1, "client_id", [f"C{i:03d}" for i in range(len(frame))])
    return frame


def _metrics(evaluation: pd.DataFrame) -> dict[tuple[str, str], float]:
    plain = evaluation[evaluation["bin"].isna()]
    return {(m, k): v for m, k, v in plain[["model_name", "metric", "value"]].itertuples(index=False)}


def test_prior_shift_follows_the_latest_matured_rate(features):
    evaluation = renewal.evaluate(features, AS_OF)
    assert set(evaluation["cutoff_date"]) == {dt.date(2025, 11, 20)}  # 12 months back
    got = _metrics(evaluation)
    cal, const, plain = renewal.MODEL_NAME, renewal.BASELINE_NAME, renewal.PLAIN_NAME
    assert got[(cal, "n_train")] == 150 and got[(cal, "n_test")] == 40  # immature contracts left out
    assert got[(cal, "observed_rate")] == pytest.approx(0.6)
    assert got[(cal, "mean_predicted")] == pytest.approx(0.6, abs=1e-6)
    assert got[(cal, "calibration_gap")] == pytest.approx(0.0, abs=1e-6)
    assert got[(cal, "brier")] == pytest.approx(0.24, abs=1e-6)
    assert got[(const, "mean_predicted")] == pytest.approx(0.8)
    assert got[(const, "calibration_gap")] == pytest.approx(0.2)
    assert got[(const, "brier")] == pytest.approx(0.28)
    assert got[(plain, "mean_predicted")] == pytest.approx(0.8, abs=1e-4)
    assert got[(cal, "observed_rate_ci95")] == pytest.approx(0.151821, abs=1e-6)
    assert got[(cal, "is_published")] == 1 and got[(const, "is_published")] == 0


def test_a_young_firm_is_split_six_months_back():
    rows = _rows(_cycle("2025-12", 4, 50), 30) + _rows(_cycle("2026-04", 5, 40), 24)
    frame = pd.DataFrame(rows).assign(contract_id=[f"K{i:03d}" for i in range(90)])
    cutoff, train, test = renewal.split(frame, AS_OF)
    assert cutoff == dt.date(2026, 5, 20) and len(train) == 50 and len(test) == 40
    cutoff, train, test = renewal.split(frame.iloc[50:], AS_OF)  # nothing before either cutoff
    assert cutoff == dt.date(2026, 5, 20) and len(train) == 0 and len(test) == 40
    got = _metrics(renewal.evaluate(frame, AS_OF))
    assert got[(renewal.MODEL_NAME, "n_train")] == 50 and got[(renewal.MODEL_NAME, "n_test")] == 40


def test_scores_use_the_window_before_as_of(features):
    scores = renewal.score(features, AS_OF)
    assert len(scores) == 3
    assert set(scores["model_name"]) == {renewal.MODEL_NAME}
    assert scores["renewal_probability"].to_numpy() == pytest.approx([0.6] * 3, abs=1e-6)


def test_offset_intercept_matches_the_rate():
    offset = np.array([-1.0, 0.0, 0.5, 2.0])
    y = np.array([0, 1, 0, 1])
    b = renewal._offset_intercept(offset, y)
    assert (1 / (1 + np.exp(-(offset + b)))).sum() == pytest.approx(2.0, abs=1e-9)
