"""Rolling-origin check of the renewal model: the night's time-ordered hold-out repeated as if the
night had run on earlier as-of dates (one a month), on a built warehouse. One hold-out is a few
hundred contracts, so its calibration gap carries sampling noise of several points; the spread over
several origins shows how far a gap is the model and how far the period.

An earlier origin sees only the labels whose 30-day window had closed by then; the features of those
contracts do not depend on the as-of date (they are measured 60 days before each contract's end), so
re-running `renewal.evaluate` on the same feature table with the window recomputed is leak-free.

    uv run python -m orchestration.models.renewal_rolling --as-of 2026-11-20 --origins 7

Prints, per origin and candidate: n_test, observed rate, mean predicted, gap, Brier, AUC; then per
candidate the means over the origins (`summary`; used for docs/models.md; several firms at once:
`orchestration.models.renewal_firms`).
"""

from __future__ import annotations

import argparse
import datetime as dt

import duckdb
import pandas as pd

from orchestration.models import renewal
from orchestration.settings import warehouse_path

METRICS = ["n_test", "observed_rate", "mean_predicted", "calibration_gap", "brier", "auc"]


def rolling(features: pd.DataFrame, as_of: dt.date, origins: int) -> pd.DataFrame:
    rows = []
    for k in range(origins - 1, -1, -1):
        origin = (pd.Timestamp(as_of) - pd.DateOffset(months=k)).date()
        seen = features[features["end_date"] < origin].copy()
        seen["renewal_window_closed"] = [d + dt.timedelta(days=30) < origin for d in seen["end_date"]]
        ev = renewal.evaluate(seen, origin)
        ev = ev[ev["bin"].isna() & ev["metric"].isin(METRICS)]
        if ev.empty:  # nothing labelled yet at this origin
            continue
        wide = ev.pivot(index="model_name", columns="metric", values="value").reset_index()
        wide.insert(0, "origin", origin)
        rows.append(wide)
    if not rows:
        return pd.DataFrame(columns=["origin", "model_name", *METRICS])
    return pd.concat(rows, ignore_index=True).reindex(columns=["origin", "model_name", *METRICS])


def summary(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: origins evaluated, mean gap, mean |gap|, origins with |gap| <= 3 points, mean Brier,
    mean AUC and mean n_test."""
    t = table.assign(
        abs_gap=table["calibration_gap"].abs(), within_3pts=table["calibration_gap"].abs() <= 0.03
    )
    out = t.groupby(by).agg(
        origins=("origin", "size"),
        gap=("calibration_gap", "mean"),
        abs_gap=("abs_gap", "mean"),
        within_3pts=("within_3pts", "sum"),
        brier=("brier", "mean"),
        auc=("auc", "mean"),
        n_test=("n_test", "mean"),
    )
    return out.round(4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    ap.add_argument("--origins", type=int, default=7)
    ap.add_argument("--warehouse", default=str(warehouse_path()))
    args = ap.parse_args()
    with duckdb.connect(args.warehouse, read_only=True) as conn:
        features = renewal.load_features(conn)
    table = rolling(features, args.as_of, args.origins)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))
        print(summary(table, ["model_name"]).to_string())


if __name__ == "__main__":
    main()
