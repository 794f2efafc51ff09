"""Benchmark one night at a given firm size: generate → load → dbt build → Python models, timings and
peak memory.

    python -m orchestration.benchmark --clients 800 10000 [--months 24] [--out docs/benchmarks.md]

Speed and memory targets are judged here, on this script's written results, not in timed tests.
Every step runs in its own process and reports its own peak RSS as VmHWM from /proc/self/status:
getrusage's ru_maxrss is not used because Linux carries a parent's high-water mark into a forked
child across exec, so a child of a big parent would report the parent's peak.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestration import settings

AS_OF = dt.date(2026, 11, 20)
STEPS = ("generate", "load", "dbt", "ml")


def _peak_rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def step_generate(work: Path, clients: int, months: int) -> dict:
    from orchestration.demo import generate

    summary = generate(work / "raw", AS_OF, seed=42, clients=clients, months=months)
    return {"rows": summary["rows_written"]}


def step_load(work: Path, clients: int, months: int) -> dict:
    import duckdb

    from orchestration.contract import ENTITIES
    from orchestration.loading import load_entity

    with duckdb.connect(str(work / "warehouse.duckdb")) as conn:
        for entity in ENTITIES:
            load_entity(conn, entity, work / "raw", load_id="bench", as_of_date=AS_OF)
    return {}


def step_dbt(work: Path, clients: int, months: int) -> dict:
    """`dbt build` of every model and test, in this process (dbtRunner) so VmHWM is dbt's own."""
    from dbt.cli.main import dbtRunner

    os.environ["OPSCENTER_WAREHOUSE"] = str(work / "warehouse.duckdb")
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    project = str(settings.DBT_PROJECT_DIR)
    result = dbtRunner().invoke(
        ["build", "--project-dir", project, "--profiles-dir", project, "--target-path", str(work / "target"),
         "--log-path", str(work / "logs"), "--vars", json.dumps({"as_of_date": AS_OF.isoformat()}), "--quiet"]
    )  # fmt: skip
    if not result.success:
        raise SystemExit(f"dbt build failed: {result.exception}")
    return {}


def step_ml(work: Path, clients: int, months: int) -> dict:
    """The nightly Python model: renewal model (train, evaluate, score). The collection forecast and
    its backtest are dbt models, timed with the dbt build."""
    import duckdb

    from orchestration.models import renewal
    from orchestration.models.ml_tables import write_table

    with duckdb.connect(str(work / "warehouse.duckdb")) as conn:
        scores, evaluation = renewal.train_and_score(conn, AS_OF)
        write_table(conn, "renewal_scores", scores)
        write_table(conn, "renewal_model_evaluation", evaluation)
    return {}


def run_step(step: str, work: Path, clients: int, months: int) -> dict:
    """Run one step in a fresh interpreter; returns its result with seconds and peak RSS."""
    cmd = [sys.executable, "-m", "orchestration.benchmark", "--step", step, "--work", str(work),
           "--clients", str(clients), "--months", str(months)]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[800, 10000])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--out", type=Path, default=settings.REPO_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        t = time.perf_counter()
        result = globals()[f"step_{args.step}"](args.work, args.clients[0], args.months)
        result.update(seconds=round(time.perf_counter() - t, 1), peak_rss_mb=_peak_rss_mb())
        print(json.dumps(result))
        return 0

    results = []
    for n in args.clients:
        work = Path(tempfile.mkdtemp(prefix=f"bench{n}_"))
        steps = {step: run_step(step, work, n, args.months) for step in STEPS}
        results.append(
            {
                "clients": n,
                "rows": steps["generate"]["rows"],
                "steps": steps,
                "warehouse_mb": round((work / "warehouse.duckdb").stat().st_size / 2**20, 1),
            }
        )
        print(json.dumps(results[-1]), file=sys.stderr)
    lines = [
        "# Benchmarks",
        "",
        f"`make benchmark` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; as of {AS_OF}, {args.months} months of history. "
        "Each step runs in its own process; seconds are wall clock, peak RSS is the process's VmHWM. "
        "load = all eight entities into DuckDB; dbt = `dbt build` of every model and test; "
        "ML = renewal model + 12-month forecast backtest + forecast. Not included: Dagster's own "
        "overhead, the second dbt pass over the marts that read the ML tables, quality suites and "
        "publishing (masked snapshot, Parquet, ~1,100 rendered pages).",
        "",
        "| clients | tasks rows | payments rows | invoices rows | "
        + " | ".join(f"{s} s | {s} peak MB" for s in STEPS)
        + " | warehouse MB |",
        "|---|---|---|---|" + "---|---|" * len(STEPS) + "---|",
    ]
    for r in results:
        cells = " | ".join(f"{r['steps'][s]['seconds']} | {r['steps'][s]['peak_rss_mb']}" for s in STEPS)
        lines.append(
            f"| {r['clients']} | {r['rows']['tasks']} | {r['rows']['payments']} | {r['rows']['invoices']} | "
            f"{cells} | {r['warehouse_mb']} |"
        )
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
