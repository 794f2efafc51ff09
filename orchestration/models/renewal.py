"""Renewal probability (续约概率), trained the way it is used.

One example per recurring contract, with features measured on its `feature_date` = the earlier of
the run's as-of date and end_date − `renewal_feature_lead_days` (dbt model
intermediate.int_contract_renewal_features): a contract approaching its end, described only by what
was known then. Label: renewed_within_30d, only where renewal_window_closed (end_date + 30 < as_of:
a contract whose window is still open has no observed outcome and is neither trained nor evaluated on).

Models, evaluated on a time-ordered hold-out (train on contracts whose label was known by cutoff =
as_of − HOLDOUT_MONTHS, 12, evaluate on those whose label became known later; a firm whose labels do
not reach back that far is split at as_of − SHORT_HOLDOUT_MONTHS, 6):
- `logistic_regression_calibrated` (published when best): a logistic regression whose regularisation
  strength is chosen by time-ordered cross-validation on the training rows known by the month end
  before the cutoff (TimeSeriesSplit, lowest
  Brier score over C_GRID), recent examples weighted more (weight halves every HALF_LIFE_MONTHS of
  label age), then recalibrated by a prior shift: its intercept is re-estimated, slopes fixed, on the
  labels that matured in the last CALIBRATION_MONTHS before the cutoff, so the mean probability
  follows the latest renewal rate rather than the mix of the whole history;
- `logistic_regression`: a plain logistic regression on the same features, every training row;
- `constant_rate`: the training renewal rate for every contract.
Both regressions see `complaints` with the days before the feedback export's first date filled in at
the training rows' observed rate (`fill_unobserved`), so "not observed" does not read as "none".
The published scores come from the one of these with the lowest hold-out Brier score (metric
`is_published` = 1 in the evaluation), refitted on every closed contract (C chosen monthly and reused
by fingerprint: `TuningCache`, docs/models.md). Too little
history (under MIN_TRAIN_ROWS labelled rows, or one class) → the constant rate; no labelled row at
all (a firm where no contract has ended) → no probability, model_name `rules_only`: the renewal
marts then tier by their rules alone. The evaluation also states the sampling noise of the hold-out
rate (`observed_rate_ci95`: 1.96 × √(p(1 − p) / n)), so a calibration gap can be read against it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect

import duckdb
import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

SEED = 20240601
HOLDOUT_MONTHS = 12  # twice a 6-month hold-out's labels: ~0.7 × its sampling noise (docs/models.md)
SHORT_HOLDOUT_MONTHS = 6  # when a 12-month split leaves no trainable history
SCORE_HORIZON_DAYS = 180
MIN_TRAIN_ROWS = 30  # below this (or one class only) the constant rate is the honest prediction
CALIBRATION_MONTHS = 12  # the intercept is re-estimated on the labels matured in this last window
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)  # inverse regularisation strengths tried by time-ordered CV
CV_SPLITS = 3
HALF_LIFE_MONTHS = 12  # an example's weight halves for every this many months of label age
CALIBRATION_BINS = 10
MODEL_NAME = "logistic_regression_calibrated"
PLAIN_NAME = "logistic_regression"
BASELINE_NAME = "constant_rate"
RULES_NAME = "rules_only"
LABEL = "renewed_within_30d"
TUNING_TABLE = "renewal_model_tuning"  # ml.<table>: the C chosen per tuning-set fingerprint (TuningCache)
EVALUATION_USER, SCORES_USER = "renewal_model_evaluation", "renewal_scores"  # its users (the dbt models)

CATEGORICAL = ["service_type", "billing_cycle", "industry", "taxpayer_type", "main_channel"]
NUMERIC = [
    "fee_per_cycle",
    "annualized_value",
    "term_months",
    "renewal_count",
    "prior_contracts_ended",
    "prior_renewed_share",
    "client_tenure_months",
    "invoices_due",
    "avg_days_late",
    "overdue_share",
    "avg_satisfaction",
    "complaints",
    "late_task_share",
    "avg_task_days_late",
]
FEATURES = CATEGORICAL + NUMERIC
# counts whose export may start inside a contract's feature window: (count, days observed, window days)
PARTLY_OBSERVED_COUNTS = [("complaints", "feedback_observed_days", "feature_window_days")]


def load_features(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = conn.execute("select * from intermediate.int_contract_renewal_features order by contract_id").df()
    for col in CATEGORICAL:
        frame[col] = frame[col].astype("object").where(frame[col].notna(), "unknown").astype(str)
    for col in NUMERIC + [c for _, *days in PARTLY_OBSERVED_COUNTS for c in days]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    for col in ("end_date", "feature_date"):
        frame[col] = pd.to_datetime(frame[col]).dt.date
    frame["renewal_window_closed"] = frame["renewal_window_closed"].fillna(False).astype(bool)
    return frame.reset_index(drop=True)


def _logistic(c: float) -> Pipeline:
    numeric = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
    features = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL), ("num", numeric, NUMERIC)]
    )
    return make_pipeline(features, LogisticRegression(C=c, max_iter=2000, random_state=SEED))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)).reshape(-1, 1)


def _trainable(y: pd.Series) -> bool:
    return len(y) >= MIN_TRAIN_ROWS and y.nunique() == 2 and y.value_counts().min() >= 3


def _label_date(frame: pd.DataFrame) -> pd.Series:
    """The day a contract's label became known: the end of its 30-day renewal window."""
    return pd.to_datetime(frame["end_date"]) + pd.Timedelta(days=30)


def _choose_c(train: pd.DataFrame) -> float:
    """Regularisation by time-ordered cross-validation: each fold trains on older rows and is scored
    (Brier) on the next newer block; the C with the lowest mean wins (ties: the stronger)."""
    y = train[LABEL].astype(int).to_numpy()
    scores = {}
    for c in C_GRID:
        fold = []
        for fit_idx, test_idx in TimeSeriesSplit(n_splits=CV_SPLITS).split(train):
            if not _trainable(pd.Series(y[fit_idx])):
                continue
            model = _logistic(c).fit(train.iloc[fit_idx][FEATURES], y[fit_idx])
            p = model.predict_proba(train.iloc[test_idx][FEATURES])[:, 1]
            fold.append(brier_score_loss(y[test_idx], p))
        if fold:
            scores[c] = float(np.mean(fold))
    return min(scores, key=lambda c: (round(scores[c], 12), c)) if scores else 1.0


def _offset_intercept(offset: np.ndarray, y: np.ndarray) -> float:
    """Maximum-likelihood intercept shift b of a logistic model with fixed offsets (Newton steps):
    afterwards Σ sigmoid(offset + b) = Σ y, i.e. the mean probability equals the window's rate."""
    b = 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(offset + b)))
        step = (p - y).sum() / max((p * (1 - p)).sum(), 1e-12)
        b -= step
        if abs(step) < 1e-10:
            break
    return float(b)


def tuning_rows(train: pd.DataFrame, known_by: dt.date) -> pd.DataFrame:
    """The rows C is chosen on: the training rows whose label was known by the month end before
    `known_by` (label date before its month's first day), complaints filled at their own observed rate.
    Chosen monthly, not nightly: the nightly training set gains the contracts whose window closed that
    day, but this set only changes when a month ends or an input is corrected, so its C is reused
    (TuningCache). Too few such rows for a CV (a young firm): every training row, as before."""
    month_start = pd.Timestamp(known_by).to_period("M").to_timestamp()
    rows = train[(_label_date(train) < month_start).to_numpy()]
    if not _trainable(rows[LABEL].astype(int)):
        rows = train
    return fill_unobserved(rows)[0]


class TuningCache:
    """C by fingerprint of the rows it was chosen on (their order, contract ids, end dates, labels and
    features) and of the code and parameters that choose it. A hit returns exactly what `_choose_c`
    would compute again, so reuse never changes a score; it saves the CV's 15 fits. Stored in
    ml.renewal_model_tuning by user (`used_by`: the evaluation's and the scores' dbt Python models each
    save theirs; only the entries a night used are kept)."""

    CODE = "\n".join(
        [repr((C_GRID, CV_SPLITS, MIN_TRAIN_ROWS, SEED, FEATURES, sklearn.__version__, np.__version__))]
        + [inspect.getsource(f) for f in (_choose_c, _logistic, _trainable)]
    )

    def __init__(self, known: dict[str, float] | None = None):
        self.known = dict(known or {})
        self.used: dict[str, tuple[float, int]] = {}
        self.hits = 0

    @staticmethod
    def fingerprint(rows: pd.DataFrame) -> str:
        digest = hashlib.sha256(TuningCache.CODE.encode())
        cols = ["contract_id", "end_date", LABEL, *FEATURES]
        digest.update(pd.util.hash_pandas_object(rows[cols], index=False).to_numpy().tobytes())
        return digest.hexdigest()

    def choose_c(self, rows: pd.DataFrame) -> float:
        key = self.fingerprint(rows)
        if key in self.known:
            self.hits += 1
            c = self.known[key]
        else:
            c = self.known[key] = _choose_c(rows)
        self.used[key] = (c, len(rows))
        return c

    @classmethod
    def load(cls, conn: duckdb.DuckDBPyConnection) -> TuningCache:
        conn.execute("CREATE SCHEMA IF NOT EXISTS ml")
        columns = "fingerprint VARCHAR, c DOUBLE, n_rows BIGINT, used_by VARCHAR"
        conn.execute(f"CREATE TABLE IF NOT EXISTS ml.{TUNING_TABLE} ({columns})")
        conn.execute(f"ALTER TABLE ml.{TUNING_TABLE} ADD COLUMN IF NOT EXISTS used_by VARCHAR")
        return cls(dict(conn.execute(f"SELECT fingerprint, c FROM ml.{TUNING_TABLE}").fetchall()))

    def save(self, conn: duckdb.DuckDBPyConnection, used_by: str) -> None:
        """Replace `used_by`'s entries with the ones used now. The scores, saved last of a night (their
        model refs the evaluation), also drop entries of no user (stored before users were recorded)."""
        conn.execute("BEGIN")
        stale = "used_by = ?" + (" OR used_by IS NULL" if used_by == SCORES_USER else "")
        conn.execute(f"DELETE FROM ml.{TUNING_TABLE} WHERE {stale}", [used_by])
        if self.used:
            conn.executemany(
                f"INSERT INTO ml.{TUNING_TABLE} (fingerprint, c, n_rows, used_by) VALUES (?, ?, ?, ?)",
                [(k, c, n, used_by) for k, (c, n) in sorted(self.used.items())],
            )
        conn.execute("COMMIT")


class CalibratedRenewalModel:
    """Logistic regression (C by time-ordered CV, recent rows weighted more), prior-shift recalibrated
    on the labels that matured in the last CALIBRATION_MONTHS before `known_by`."""

    def fit(
        self, train: pd.DataFrame, known_by: dt.date, tuning: pd.DataFrame, cache: TuningCache | None = None
    ) -> CalibratedRenewalModel:
        """`train`: filled training rows; `tuning`: the rows C is chosen on (tuning_rows)."""
        train = train.sort_values(["end_date", "contract_id"])
        tuning = tuning.sort_values(["end_date", "contract_id"])
        y = train[LABEL].astype(int).to_numpy()
        label_date = _label_date(train)
        age_months = (pd.Timestamp(known_by) - label_date).dt.days.to_numpy() / 30.4375
        weights = 0.5 ** (np.maximum(age_months, 0) / HALF_LIFE_MONTHS)
        self.c = (cache or TuningCache()).choose_c(tuning)
        self.base = _logistic(self.c).fit(train[FEATURES], y, logisticregression__sample_weight=weights)
        recent = (label_date >= pd.Timestamp(known_by) - pd.DateOffset(months=CALIBRATION_MONTHS)).to_numpy()
        if not _trainable(pd.Series(y[recent])):
            recent = np.ones(len(y), dtype=bool)  # too few recent labels: recalibrate on every row
        raw = self.base.predict_proba(train[recent][FEATURES])[:, 1]
        self.shift = _offset_intercept(_logit(raw).ravel(), y[recent])
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if frame.empty:
            return np.array([])
        raw = _logit(self.base.predict_proba(frame[FEATURES])[:, 1]).ravel()
        return 1 / (1 + np.exp(-(raw + self.shift)))


def fill_unobserved(train: pd.DataFrame, *frames: pd.DataFrame) -> list[pd.DataFrame]:
    """Counts measured over a feature window that their export covers only in part (the feedback export
    starts after the contract did): the unobserved days are filled at the training rows' observed rate
    (Σ count ÷ Σ observed days), so "not observed" is not read as "none" — otherwise the oldest training
    rows look better behaved than the contracts scored, and the model under-predicts them. Fully
    observed rows are unchanged; the rate comes from `train` only. Returns [train, *frames] filled."""
    out = [f.copy() for f in (train, *frames)]
    for count, observed, window in PARTLY_OBSERVED_COUNTS:
        days = train[observed].sum() if len(train) else 0.0
        rate = float(train[count].sum() / days) if days > 0 else 0.0
        for f in out:
            if len(f):
                f[count] = f[count] + rate * (f[window] - f[observed]).clip(lower=0)
    return out


def fit_predict(
    train: pd.DataFrame,
    target: pd.DataFrame,
    known_by: dt.date,
    model: str = MODEL_NAME,
    cache: TuningCache | None = None,
) -> tuple[np.ndarray, str]:
    """Probabilities for `target` from `model` fitted on `train` (labels known by `known_by`); falls back
    to the constant rate (too little history) or to no probability at all (`rules_only`: no labelled row)."""
    y = train[LABEL].astype(int) if len(train) else pd.Series([], dtype=int)
    if len(y) == 0:
        return np.full(len(target), np.nan), RULES_NAME
    if model == BASELINE_NAME or not _trainable(y):
        return np.full(len(target), float(y.mean())), BASELINE_NAME
    if target.empty:
        return np.array([]), model
    tuning = tuning_rows(train, known_by) if model == MODEL_NAME else None
    train, target = fill_unobserved(train, target)
    if model == PLAIN_NAME:
        return _logistic(1.0).fit(train[FEATURES], y).predict_proba(target[FEATURES])[:, 1], PLAIN_NAME
    return CalibratedRenewalModel().fit(train, known_by, tuning, cache).predict(target), MODEL_NAME


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    n = len(y)
    out = {"brier": float(brier_score_loss(y, p)) if n else np.nan, "n_test": float(n)}
    out["auc"] = float(roc_auc_score(y, p)) if len(set(y)) == 2 else np.nan
    out["observed_rate"] = float(np.mean(y)) if n else np.nan
    out["mean_predicted"] = float(np.mean(p)) if n else np.nan
    out["calibration_gap"] = out["mean_predicted"] - out["observed_rate"] if n else np.nan
    rate = out["observed_rate"]
    out["observed_rate_ci95"] = 1.96 * float(np.sqrt(rate * (1 - rate) / n)) if n else np.nan
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


def _closed(features: pd.DataFrame) -> pd.DataFrame:
    """Contracts whose renewal outcome is known (30-day window closed), decided after their feature date."""
    return features[features["renewal_window_closed"] & ~features["renewed_before_feature_date"].astype(bool)]


def choose(predictions: dict[str, np.ndarray], y: np.ndarray) -> str | None:
    """The method to publish: lowest hold-out Brier score (ties and an empty hold-out: the earlier
    of model, plain regression, constant rate)."""
    if not predictions:
        return None
    if len(y) == 0:
        return next(iter(predictions))
    return min(predictions, key=lambda name: brier_score_loss(y, predictions[name]))


def split(features: pd.DataFrame, as_of: dt.date) -> tuple[dt.date, pd.DataFrame, pd.DataFrame]:
    """(cutoff, training rows, hold-out rows): cutoff = as_of − HOLDOUT_MONTHS, or as_of −
    SHORT_HOLDOUT_MONTHS when the longer split leaves no trainable history (a young firm). Training:
    closed contracts whose label was known before the cutoff; hold-out: the closed ones known since."""
    closed = _closed(features)
    for months in (HOLDOUT_MONTHS, SHORT_HOLDOUT_MONTHS):
        cutoff = (pd.Timestamp(as_of) - pd.DateOffset(months=months)).date()
        known = (_label_date(closed) < pd.Timestamp(cutoff)).to_numpy()
        if _trainable(closed[known][LABEL].astype(int)):
            break
    return cutoff, closed[known], closed[~known]


def evaluate(features: pd.DataFrame, as_of: dt.date, cache: TuningCache | None = None) -> pd.DataFrame:
    """Time-ordered hold-out: the model, the plain logistic regression and the constant rate, long format."""
    cutoff, train, test = split(features, as_of)
    y_test = test[LABEL].astype(int).to_numpy()
    rate = float(train[LABEL].astype(int).mean()) if len(train) else np.nan

    rows, predictions = [], {}
    for wanted in (MODEL_NAME, PLAIN_NAME, BASELINE_NAME):
        p, name = fit_predict(train, test, cutoff, wanted, cache)
        if name == RULES_NAME or name in predictions:
            continue  # no labelled history, or a model fell back to a method already reported
        predictions[name] = p
        metrics = _metrics(y_test, p) | {"n_train": float(len(train)), "train_positive_rate": rate}
        rows += [(name, metric, None, value) for metric, value in metrics.items()]
    published = choose(predictions, y_test)
    rows += [(name, "is_published", None, float(name == published)) for name in predictions]
    if published is not None:
        name, p = published, predictions[published]
        for _, r in calibration_table(y_test, p).iterrows():
            b = int(r["bin"])
            rows += [
                (name, "calibration_mean_predicted", b, float(r["mean_predicted"])),
                (name, "calibration_observed_rate", b, float(r["observed_rate"])),
                (name, "calibration_count", b, float(r["count"])),
            ]
    frame = pd.DataFrame(rows, columns=["model_name", "metric", "bin", "value"])
    frame.insert(0, "cutoff_date", cutoff)
    frame.insert(0, "as_of_date", as_of)
    frame["bin"] = frame["bin"].astype("Int64")
    return frame


def score(
    features: pd.DataFrame, as_of: dt.date, model: str = MODEL_NAME, cache: TuningCache | None = None
) -> pd.DataFrame:
    """Renewal probability of contracts in force, not yet renewed, ending within the next 180 days."""
    horizon = as_of + dt.timedelta(days=SCORE_HORIZON_DAYS)
    end = pd.to_datetime(features["end_date"])
    in_window = ((end >= pd.Timestamp(as_of)) & (end <= pd.Timestamp(horizon))).to_numpy()
    target = features[
        (features["state_as_of"] == "active") & in_window & ~features["is_renewed"].astype(bool)
    ]
    p, model_name = fit_predict(_closed(features), target, as_of, model, cache)
    out = target[["contract_id", "client_id", "end_date", "is_renewed"]].copy()
    out["renewal_probability"] = p
    out["model_name"] = model_name
    out.insert(0, "as_of_date", as_of)
    return out.sort_values("contract_id").reset_index(drop=True)


def evaluate_night(conn: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """The evaluation for `as_of` (dbt Python model ml.renewal_model_evaluation); the C of each
    calibrated fit comes from ml.renewal_model_tuning when its tuning rows are unchanged (TuningCache)."""
    cache = TuningCache.load(conn)
    evaluation = evaluate(load_features(conn), as_of, cache)
    cache.save(conn, EVALUATION_USER)
    return evaluation


def published_model(evaluation: pd.DataFrame) -> str:
    """The method the evaluation publishes (metric is_published = 1); the model when there is none."""
    published = evaluation[(evaluation["metric"] == "is_published") & (evaluation["value"] == 1)]
    return published["model_name"].iloc[0] if len(published) else MODEL_NAME


def score_night(conn: duckdb.DuckDBPyConnection, as_of: dt.date, model: str) -> pd.DataFrame:
    """The scores for `as_of` from the published `model` (dbt Python model ml.renewal_scores)."""
    cache = TuningCache.load(conn)
    scores = score(load_features(conn), as_of, model, cache)
    cache.save(conn, SCORES_USER)
    return scores


def train_and_score(conn: duckdb.DuckDBPyConnection, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, evaluation) for `as_of`, as the night's two dbt Python models compute them one after the
    other; deterministic (fixed seed, sorted input). Tests and the benchmark call it directly."""
    evaluation = evaluate_night(conn, as_of)
    return score_night(conn, as_of, published_model(evaluation)), evaluation
