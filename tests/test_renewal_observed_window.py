"""Counts whose export starts inside a contract's feature window (issue 10: the demo's feedback export
starts 2024-12-07, a year after its billing and tasks; real firms' exports start where they start).
Hand-made feature rows (no dbt), as of 2026-11-20, hold-out cutoff 2025-11-20; every feature is the
same except `complaints`, every feature window is 300 days:

  old training rows    100 contracts ending 2023-07 .. 2024-02, feedback not exported yet
                       (feedback_observed_days 0): complaints read 0; 70 renewed (70 %)
  recent training rows 100 ending 2025-05 .. 2025-09, fully observed: 50 with 2 complaints
                       (25 renewed, 50 %), 50 with none (45 renewed, 90 %)
  hold-out             100 ending 2026-04 .. 2026-08, the same mix as the recent rows: 70 % renewed

Unfilled, the old rows say "no complaint → 70 %" next to the recent "no complaint → 90 %", so the plain
regression's no-complaint rate sits near (70 + 45) / 150 = 76.7 % and its hold-out mean near
(76.7 + 50) / 2 = 63.3 % (fitted: 63.5 %, gap −6.5 points). Filled: the observed rate is
Σ complaints ÷ Σ observed days = 100 ÷ (100 × 300) = 1/300 a day, so each old row gets
300 × 1/300 = 1 complaint, the rows read
0 → 90 %, 1 → 70 %, 2 → 50 %, and the hold-out mean comes back to 68 % (gap −2.0: a logistic
curve cannot pass exactly through 90 / 70 / 50 %).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from orchestration.models import renewal

AS_OF = dt.date(2026, 11, 20)


def _frame(rows: list[tuple[str, int, float, float, bool]]) -> pd.DataFrame:
    """(end month, count, complaints, feedback_observed_days, renewed) → feature rows, window 300 days."""
    out = []
    for month, n, complaints, observed, renewed in rows:
        end = (pd.Timestamp(f"{month}-01") + pd.offsets.MonthEnd(0)).date()
        for _ in range(n):
            row = {c: "x" for c in renewal.CATEGORICAL} | {c: 1.0 for c in renewal.NUMERIC}
            row |= {
                "complaints": complaints,
                "feature_window_days": 300.0,
                "feedback_observed_days": observed,
                "end_date": end,
                "feature_date": end - dt.timedelta(days=60),
                "renewal_window_closed": True,
                "renewed_before_feature_date": False,
                renewal.LABEL: renewed,
                "state_as_of": "expired",
                "is_renewed": False,
            }
            out.append(row)
    frame = pd.DataFrame(out)
    frame.insert(0, "contract_id", [f"K{i:03d}" for i in range(len(frame))])
    frame.insert(1, "client_id", [f"C{i:03d}" for i in range(len(frame))])
    return frame


@pytest.fixture(scope="module")
def features():
    old = [f"2023-{m:02d}" for m in range(7, 13)] + [f"2024-{m:02d}" for m in range(1, 3)]  # 8 months
    recent = [f"2025-{m:02d}" for m in range(5, 10)]  # 5 months, 20 a month
    hold = [f"2026-{m:02d}" for m in range(4, 9)]  # 5 months, 20 a month
    rows = []
    for i, m in enumerate(old):  # 100 rows, 70 renewed, nothing observed
        n = 13 if i < 4 else 12
        renewed = 9 if i < 6 else 8  # 6 × 9 + 2 × 8 = 70
        rows += [(m, renewed, 0.0, 0.0, True), (m, n - renewed, 0.0, 0.0, False)]
    for period in (recent, hold):  # 100 rows each: 50 with 2 complaints (25 renewed), 50 without (45)
        for m in period:
            rows += [(m, 5, 2.0, 300.0, True), (m, 5, 2.0, 300.0, False)]
            rows += [(m, 9, 0.0, 300.0, True), (m, 1, 0.0, 300.0, False)]
    return _frame(rows)


def test_the_fixture_holds_what_the_docstring_says(features):
    closed_by = features["end_date"].map(lambda d: d + dt.timedelta(days=30) < dt.date(2025, 11, 20))
    old = features[features["feedback_observed_days"] == 0]
    assert len(old) == 100 and old[renewal.LABEL].sum() == 70 and closed_by[old.index].all()
    recent = features[(features["feedback_observed_days"] == 300) & closed_by]
    hold = features[~closed_by]
    for part in (recent, hold):
        assert len(part) == 100 and part[renewal.LABEL].sum() == 70
        assert part.groupby("complaints")[renewal.LABEL].agg(["size", "sum"]).values.tolist() == [
            [50, 45],
            [50, 25],
        ]


def test_unobserved_complaints_are_filled_at_the_training_rows_observed_rate():
    train = pd.DataFrame(
        {  # rate = (2 + 1 + 0) complaints ÷ (300 + 100 + 0) observed days = 0.0075 a day
            "complaints": [2.0, 1.0, 0.0],
            "feedback_observed_days": [300.0, 100.0, 0.0],
            "feature_window_days": [300.0, 300.0, 300.0],
        }
    )
    target = pd.DataFrame(
        {  # the target's own complaints do not move the rate
            "complaints": [0.0, 10.0, 4.0],
            "feedback_observed_days": [150.0, 10.0, 200.0],
            "feature_window_days": [300.0, 10.0, 200.0],
        }
    )
    filled_train, filled_target = renewal.fill_unobserved(train, target)
    assert filled_train["complaints"].tolist() == pytest.approx([2.0, 1.0 + 0.0075 * 200, 0.0075 * 300])
    assert filled_target["complaints"].tolist() == pytest.approx([0.0075 * 150, 10.0, 4.0])
    assert train["complaints"].tolist() == [2.0, 1.0, 0.0]  # the inputs are left alone
    none = train.assign(feedback_observed_days=0.0)  # no feedback exported at all: nothing to fill
    assert renewal.fill_unobserved(none)[0]["complaints"].tolist() == [2.0, 1.0, 0.0]


def _metrics(evaluation: pd.DataFrame) -> dict[tuple[str, str], float]:
    plain = evaluation[evaluation["bin"].isna()]
    return {(m, k): v for m, k, v in plain[["model_name", "metric", "value"]].itertuples(index=False)}


def test_unobserved_complaints_no_longer_bias_the_model_down(features):
    got = _metrics(renewal.evaluate(features, AS_OF))
    plain, cal = renewal.PLAIN_NAME, renewal.MODEL_NAME
    assert got[(plain, "n_train")] == 200 and got[(plain, "n_test")] == 100
    assert got[(plain, "observed_rate")] == pytest.approx(0.70)
    # unfilled (old rows read "0 complaints"): plain mean predicted 63.5 %, gap −6.5 points; filled:
    # −2.0 (a logistic curve cannot pass exactly through 90 / 70 / 50 %)
    assert abs(got[(plain, "calibration_gap")]) < 0.025
    # the calibrated model's mean follows the recent rows' 70 % (the 12 months of labels before the
    # cutoff) either way, but it ranks and
    # scores better once the old rows stop teaching "no complaint" at 70 %: Brier 0.1701 (unfilled 0.1729)
    assert got[(cal, "calibration_gap")] == pytest.approx(0.0, abs=1e-4)
    assert got[(cal, "brier")] < 0.171
    assert got[(cal, "brier")] < got[(renewal.BASELINE_NAME, "brier")] == pytest.approx(0.21)
