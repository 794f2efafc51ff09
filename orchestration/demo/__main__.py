"""CLI: uv run python -m orchestration.demo --out data/raw --as-of 2026-11-20 --seed 42"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

from orchestration.demo.generator import FAULTS, generate


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m orchestration.demo", description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("data/raw"), help="landing zone (default data/raw)")
    ap.add_argument("--as-of", type=date.fromisoformat, required=True, help="as-of date, YYYY-MM-DD")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--clients", type=int, default=800)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--fault", choices=FAULTS, default=None, help="inject a quality-gate fault")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    summary = generate(args.out, args.as_of, args.seed, args.clients, args.months, args.fault)
    brief = {
        k: summary[k] for k in ("as_of", "seed", "clients", "months", "fault", "unique_keys", "rows_written")
    }
    print(json.dumps(brief, ensure_ascii=False, indent=1))
    print(f"wrote {sum(len(f) for f in summary['files'].values())} files under {args.out} "
          f"in {time.perf_counter() - t0:.1f}s")  # fmt: skip


if __name__ == "__main__":
    main()
