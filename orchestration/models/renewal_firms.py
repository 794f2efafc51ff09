"""The renewal model's rolling-origin check on several simulated firms unlike each other (the numbers of
docs/models.md): each firm is generated, loaded and built up to its renewal features in a throw-away
warehouse, then `renewal_rolling.rolling` runs the night's hold-out evaluation on monthly as-of dates.

    uv run python -m orchestration.models.renewal_firms --out /tmp/renewal_firms [--firms demo,seed7]

Writes <out>/<firm>/features.parquet and <out>/rolling.csv (one row per firm, origin and candidate)
and prints the per-firm means. dbt runs as a subprocess (`dbt build` of seeds and models, no tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.contract import ENTITIES
from orchestration.demo import generate
from orchestration.loading import load_entity
from orchestration.models import renewal
from orchestration.models.renewal_rolling import rolling, summary
from orchestration.settings import DBT_PROJECT_DIR

# name: (seed, clients, months of history, as-of date) — the demo and firms unlike it
FIRMS = {
    "demo": (42, 800, 24, dt.date(2026, 11, 20)),
    "seed7": (7, 800, 24, dt.date(2026, 11, 20)),
    "seed3_36m": (3, 800, 36, dt.date(2026, 11, 20)),
    "small": (5, 150, 24, dt.date(2026, 11, 20)),
    "from2012": (11, 400, 24, dt.date(2013, 12, 20)),
    "six_months": (13, 300, 6, dt.date(2026, 11, 20)),
}
ORIGINS = 7


def build_features(folder: Path, seed: int, clients: int, months: int, as_of: dt.date) -> pd.DataFrame:
    """Generate the firm, load it and build int_contract_renewal_features; returns the feature table."""
    folder.mkdir(parents=True, exist_ok=True)
    generate(folder / "raw", as_of, seed=seed, clients=clients, months=months)
    path = folder / "warehouse.duckdb"
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as conn:
        for entity in ENTITIES:
            load_entity(conn, entity, folder / "raw", load_id="renewal_firms", as_of_date=as_of)
    env = {**os.environ, "OPSCENTER_WAREHOUSE": str(path.resolve())}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    target = (folder / "target").resolve()
    cmd = [
        str(Path(sys.executable).with_name("dbt")), "build", "--select", "+int_contract_renewal_features",
        "--resource-type", "model", "--resource-type", "seed",
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target), "--log-path", str(target / "logs"),
        "--vars", json.dumps({"as_of_date": as_of.isoformat()}),
    ]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=target.parent)
    with duckdb.connect(str(path), read_only=True) as conn:
        features = renewal.load_features(conn)
    features.to_parquet(folder / "features.parquet")
    return features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--firms", default=",".join(FIRMS))
    ap.add_argument("--origins", type=int, default=ORIGINS)
    ap.add_argument("--reuse", action="store_true", help="read features.parquet built by an earlier run")
    args = ap.parse_args()
    tables = []
    for name in args.firms.split(","):
        seed, clients, months, as_of = FIRMS[name]
        folder = args.out / name
        if args.reuse and (folder / "features.parquet").exists():
            features = pd.read_parquet(folder / "features.parquet")
            for col in ("end_date", "feature_date"):
                features[col] = pd.to_datetime(features[col]).dt.date
        else:
            features = build_features(folder, seed, clients, months, as_of)
        tables.append(rolling(features, as_of, args.origins).assign(firm=name))
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(args.out / "rolling.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary(table, ["firm", "model_name"]).to_string())


if __name__ == "__main__":
    main()
