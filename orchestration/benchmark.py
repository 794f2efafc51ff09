"""Benchmark one night at a given firm size: generate → load → dbt build → Python models, timings and
peak memory.

    python -m orchestration.benchmark --clients 800 10000 [--months 24] [--out docs/benchmarks.md]

Speed and memory targets are judged here, on this script's written results, not in timed tests.
Each size runs in a child process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestration import settings

AS_OF = dt.date(2026, 11, 20)


def run_one(work: Path) -> dict:
    """Runs in the child, on data the parent generated: the loader in this process (its peak RSS is
    this process's) and dbt build as a subprocess (its peak RSS is the children's)."""
    import duckdb

    from orchestration.contract import ENTITIES
    from orchestration.loading import load_entity

    timings = {}
    warehouse = work / "warehouse.duckdb"
    t = time.perf_counter()
    with duckdb.connect(str(warehouse)) as conn:
        for entity in ENTITIES:
            load_entity(conn, entity, work / "raw", load_id="bench", as_of_date=AS_OF)
    timings["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    env = {**os.environ, "OPSCENTER_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run(
        [str(dbt), "build", "--project-dir", str(settings.DBT_PROJECT_DIR), "--profiles-dir",
         str(settings.DBT_PROJECT_DIR), "--target-path", str(work / "target"), "--log-path",
         str(work / "logs"), "--vars", json.dumps({"as_of_date": AS_OF.isoformat()}), "--quiet"],
        env=env, check=True,
    )  # fmt: skip
    timings["dbt_build_s"] = time.perf_counter() - t
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cmd = [sys.executable, "-m", "orchestration.benchmark", "--ml", str(warehouse)]
    ml = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    return {
        **{k: round(v, 1) for k, v in timings.items()},
        "ml_s": ml["ml_s"],
        "peak_rss_mb_loader": round(own),
        "peak_rss_mb_dbt": round(children),
        "peak_rss_mb_ml": ml["peak_rss_mb_ml"],
        "warehouse_mb": round(warehouse.stat().st_size / 2**20, 1),
    }


def run_ml(warehouse: Path) -> dict:
    """The nightly Python models on a built warehouse, in their own process: renewal model (train,
    evaluate, score), the 12-month forecast backtest (12 cutoffs) and the forecast."""
    import duckdb

    from orchestration.models import collections, renewal
    from orchestration.models.ml_tables import write_table

    t = time.perf_counter()
    with duckdb.connect(str(warehouse)) as conn:
        scores, evaluation = renewal.train_and_score(conn, AS_OF)
        write_table(conn, "renewal_scores", scores)
        write_table(conn, "renewal_model_evaluation", evaluation)
        backtest = collections.backtest(conn, AS_OF, months=12)
        band = collections.band_from_errors(backtest["forecast_amount"], backtest["actual_amount"])
        collections.forecast(conn, AS_OF, band_pct=band)
    return {
        "ml_s": round(time.perf_counter() - t, 1),
        "peak_rss_mb_ml": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[800, 10000])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--out", type=Path, default=settings.REPO_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ml", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ml:
        print(json.dumps(run_ml(args.ml)))
        return 0
    if args.child:
        print(json.dumps(run_one(args.child)))
        return 0
    from orchestration.demo import generate

    results = []
    for n in args.clients:
        work = Path(tempfile.mkdtemp(prefix=f"bench{n}_"))
        t = time.perf_counter()
        summary = generate(work / "raw", AS_OF, seed=42, clients=n, months=args.months)
        generated = {
            "clients": n,
            "rows": summary["rows_written"],
            "generate_s": round(time.perf_counter() - t, 1),
        }
        cmd = [sys.executable, "-m", "orchestration.benchmark", "--child", str(work)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append({**generated, **json.loads(out.strip().splitlines()[-1])})
        print(results[-1], file=sys.stderr)
    lines = [
        "# Benchmarks",
        "",
        f"`make benchmark` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; "
        f"as of {AS_OF}, {args.months} months of history. Loader = all eight entities into DuckDB; "
        "dbt = `dbt build` of every model and test; ML = renewal model + 12-month forecast backtest + "
        "forecast. Each step's peak RSS is its own process's. Dagster's own overhead, the second dbt "
        "pass over the ML marts and publishing (rendering ~1,100 pages) are not included.",
        "",
        "| clients | tasks rows | payments rows | generate s | load s | dbt build s | ML s "
        "| peak RSS loader MB | peak RSS dbt MB | peak RSS ML MB | warehouse MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['clients']} | {r['rows']['tasks']} | {r['rows']['payments']} | {r['generate_s']} | "
            f"{r['load_s']} | {r['dbt_build_s']} | {r['ml_s']} | {r['peak_rss_mb_loader']} | "
            f"{r['peak_rss_mb_dbt']} | {r['peak_rss_mb_ml']} | {r['warehouse_mb']} |"
        )
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
