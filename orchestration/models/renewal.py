"""Renewal probability (续约概率): calibrated logistic regression on ended recurring contracts.

Features come from the dbt model intermediate.int_contract_renewal_features (set-based SQL). Label:
renewed_within_30d, only where renewal_window_closed (end_date + 30 < as_of_date). Evaluation is a
time-based hold-out: train on contracts whose window closed before cutoff = as_of − 6 months,
evaluate on those closed later; the scores then come from a model refit on every closed contract.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

SEED = 20240601
HOLDOUT_MONTHS = 6
SCORE_HORIZON_DAYS = 180
MIN_TRAIN_ROWS = 30  # below this (or one class only) the constant rate is the honest prediction
CALIBRATION_BINS = 10
MODEL_NAME = "logistic_regression_calibrated"
BASELINE_NAME = "constant_rate"

CATEGORICAL = ["service_type", "billing_cycle", "industry", "taxpayer_type", "main_channel"]
NUMERIC = [
    "fee_per_cycle",
    "annualized_value",
    "term_months",
    "renewal_count",
    "client_tenure_months",
    "invoices_due",
    "avg_days_late",
    "overdue_share",
    "avg_satisfaction",
    "complaints",
    "late_task_share",
    "avg_task_days_late",
]


def load_features(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = conn.execute("select * from intermediate.int_contract_renewal_features").df()
    for col in CATEGORICAL:
        frame[col] = frame[col].astype("object").where(frame[col].notna(), "unknown").astype(str)
    for col in NUMERIC:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["end_date"] = pd.to_datetime(frame["end_date"]).dt.date
    return frame


def _model() -> CalibratedClassifierCV:
    features = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
        ]
    )
    base = make_pipeline(features, LogisticRegression(C=0.5, max_iter=2000, random_state=SEED))
    return CalibratedClassifierCV(
        base, method="sigmoid", cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=SEED)
    )


def _trainable(y: pd.Series) -> bool:
    return len(y) >= MIN_TRAIN_ROWS and y.nunique() == 2 and y.value_counts().min() >= 3


def fit_predict(train: pd.DataFrame, target: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Probabilities for `target` from a model fitted on `train` (constant rate if too little data)."""
    y = train["renewed_within_30d"].astype(int)
    if not _trainable(y):
        rate = float(y.mean()) if len(y) else 0.5
        return np.full(len(target), rate), BASELINE_NAME
    model = _model().fit(train[CATEGORICAL + NUMERIC], y)
    if target.empty:
        return np.array([]), MODEL_NAME
    return model.predict_proba(target[CATEGORICAL + NUMERIC])[:, 1], MODEL_NAME


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    out = {"brier": float(brier_score_loss(y, p)) if len(y) else np.nan, "n_test": float(len(y))}
    out["auc"] = float(roc_auc_score(y, p)) if len(set(y)) == 2 else np.nan
    out["observed_rate"] = float(np.mean(y)) if len(y) else np.nan
    out["mean_predicted"] = float(np.mean(p)) if len(p) else np.nan
    return out


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Deciles of predicted probability: mean predicted vs observed rate and count per bin."""
    if len(p) == 0:
        return pd.DataFrame(columns=["bin", "mean_predicted", "observed_rate", "count"])
    ranks = pd.Series(p).rank(method="first")
    labels = pd.qcut(ranks, q=min(bins, len(p)), labels=False) + 1
    frame = pd.DataFrame({"bin": labels, "p": p, "y": y})
    table = frame.groupby("bin").agg(
        mean_predicted=("p", "mean"), observed_rate=("y", "mean"), count=("y", "size")
    )
    return table.reset_index()


def evaluate(features: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Time-based hold-out evaluation of the model and of the constant-rate baseline, long format."""
    cutoff = (pd.Timestamp(as_of) - pd.DateOffset(months=HOLDOUT_MONTHS)).date()
    closed = features[features["renewal_window_closed"].fillna(False).astype(bool)]
    label_known_at_cutoff = closed["end_date"].map(lambda d: d + dt.timedelta(days=30) < cutoff)
    train, test = closed[label_known_at_cutoff], closed[~label_known_at_cutoff]
    y_train = train["renewed_within_30d"].astype(int).to_numpy()
    y_test = test["renewed_within_30d"].astype(int).to_numpy()
    p_model, model_name = fit_predict(train, test)
    rate = float(y_train.mean()) if len(y_train) else 0.5
    p_const = np.full(len(test), rate)

    rows = []
    for name, p in ((model_name, p_model), (BASELINE_NAME, p_const)):
        metrics = _metrics(y_test, p)
        metrics["n_train"] = float(len(train))
        metrics["train_positive_rate"] = rate
        rows += [(name, metric, None, value) for metric, value in metrics.items()]
        if name == BASELINE_NAME and model_name == BASELINE_NAME:
            break
    table = calibration_table(y_test, p_model)
    for _, r in table.iterrows():
        b = int(r["bin"])
        rows += [
            (model_name, "calibration_mean_predicted", b, float(r["mean_predicted"])),
            (model_name, "calibration_observed_rate", b, float(r["observed_rate"])),
            (model_name, "calibration_count", b, float(r["count"])),
        ]
    frame = pd.DataFrame(rows, columns=["model_name", "metric", "bin", "value"])
    frame.insert(0, "cutoff_date", cutoff)
    frame.insert(0, "as_of_date", as_of)
    frame["bin"] = frame["bin"].astype("Int64")
    return frame


def score(features: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Renewal probability of contracts in force that end within the next 180 days."""
    closed = features[features["renewal_window_closed"].fillna(False).astype(bool)]
    horizon = as_of + dt.timedelta(days=SCORE_HORIZON_DAYS)
    target = features[
        (features["state_as_of"] == "active") & features["end_date"].map(lambda d: as_of <= d <= horizon)
    ]
    p, model_name = fit_predict(closed, target)
    out = target[["contract_id", "client_id", "end_date", "is_renewed"]].copy()
    out["renewal_probability"] = p
    out["model_name"] = model_name
    out.insert(0, "as_of_date", as_of)
    return out.sort_values("contract_id").reset_index(drop=True)


def train_and_score(conn: duckdb.DuckDBPyConnection, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, evaluation) for `as_of`; deterministic (fixed seed, sorted input)."""
    features = load_features(conn).sort_values("contract_id").reset_index(drop=True)
    return score(features, as_of), evaluate(features, as_of)
