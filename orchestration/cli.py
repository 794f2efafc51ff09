"""Command line for operators: run one night, show the state of the last publication.

python -m orchestration.cli nightly --as-of 2026-11-20 [--make-current] [--full-refresh]
python -m orchestration.cli backfill --from 2026-11-01 --to 2026-11-20 [--full-refresh]
python -m orchestration.cli status
python -m orchestration.cli rollback [--to <version>]
"""

from __future__ import annotations

import argparse
import json
import sys

from orchestration import settings
from orchestration.run_config import AS_OF_TAG, FULL_REFRESH_TAG


def night_tags(as_of: str, make_current: bool = False, full_refresh: bool = False) -> dict[str, str]:
    """The run tags of one night launched from here."""
    from orchestration.assets.publish import MAKE_CURRENT_TAG

    return (
        {AS_OF_TAG: as_of}
        | ({MAKE_CURRENT_TAG: "1"} if make_current else {})
        | ({FULL_REFRESH_TAG: "1"} if full_refresh else {})
    )


def run_nightly(as_of: str, make_current: bool = False, full_refresh: bool = False) -> bool:
    """One night in process. Alerts go out as the daemon's sensors would send them (same code):
    the failure alert, or the warnings summary of a green night; a run alerted here is tagged so a
    running daemon does not send it again. `make_current`: make it current even if older;
    `full_refresh`: dbt rebuilds every incremental model from scratch."""

    from orchestration.definitions import defs
    from orchestration.event_log import night_instance

    instance = night_instance()
    job = defs.resolve_job_def("nightly")
    tags = night_tags(as_of, make_current, full_refresh)
    result = job.execute_in_process(
        instance=instance,
        tags=tags,
        raise_on_error=False,
        # Step-level INFO is what an operator reads; DEBUG stays in the Dagster UI's event log.
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    from orchestration.sensors import notify_run_failure, notify_run_warnings

    run = instance.get_run_by_id(result.run_id)
    if result.success:
        notify_run_warnings(instance, run)
    else:
        notify_run_failure(instance, run)
    return result.success


def print_status() -> None:
    root = settings.publish_dir()
    current = root / "current"
    print(f"warehouse:  {settings.warehouse_path()}")
    print(f"published:  {root}")
    if current.exists():
        manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
        version = current.resolve().name
        print(f"current  -> {version}  (as of {manifest['as_of_date']}, run {manifest['run_id']})")
        print(f"snapshot:   {current / 'snapshot.duckdb'}  (open read-only from BI tools)")
        print(f"pages:      {current / 'pages' / 'index.html'}")
    else:
        print("current  -> (nothing published yet)")
    if root.is_dir():
        from orchestration.publish import published_versions

        kept = published_versions(root)
        if kept:
            print(f"kept:       {len(kept)} version(s), oldest {kept[0]}, newest {kept[-1]}")
    log = settings.alert_log_path()
    if log.exists():
        lines = log.read_text(encoding="utf-8").strip().splitlines()
        print(f"ops alerts: {log} ({len(lines)} entries)")
        if lines:
            last = json.loads(lines[-1])
            print(f"last alert: {last.get('title', '')}")


def run_rollback(to: str | None) -> int:
    from orchestration.ops_alerts import send_ops_alert
    from orchestration.publish import RollbackError, rollback

    try:
        before, after = rollback(settings.publish_dir(), to)
    except RollbackError as exc:
        print(f"rollback refused: {exc}", file=sys.stderr)
        return 2
    # ops hear about every change of what managers and BI tools read, not only failures
    send_ops_alert(
        "报表已回滚",
        f"当前版本由 {before} 切换为 {after}，下一次成功的夜间运行将重新发布。",
        level="warning",
        context={"event": "rollback", "from": before, "to": after},
    )
    print_status()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opscenter")
    sub = parser.add_subparsers(dest="command", required=True)
    nightly = sub.add_parser("nightly", help="run the nightly job once for an as-of date")
    nightly.add_argument("--as-of", required=True, help="YYYY-MM-DD")
    nightly.add_argument(
        "--make-current",
        action="store_true",
        help="make this night current even if its as-of date is older than the current publication",
    )
    nightly.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every incremental dbt model from scratch (an upgrade night rebuilds the changed"
        " ones by itself: docs/runbook.md)",
    )
    backfill = sub.add_parser("backfill", help="run the nightly job for every date in a range, in order")
    backfill.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD")
    backfill.add_argument("--to", dest="end", required=True, help="YYYY-MM-DD (inclusive)")
    backfill.add_argument(
        "--full-refresh",
        action="store_true",
        help="the first night rebuilds every incremental dbt model from scratch (until one night succeeds);"
        " the nights after it build incrementally on it",
    )
    sub.add_parser("status", help="where the outputs are and what is current")
    roll = sub.add_parser("rollback", help="make an earlier kept version current (default: the previous one)")
    roll.add_argument("--to", help="version folder name, e.g. 2026-11-19_<run_id>")
    args = parser.parse_args(argv)
    if args.command == "rollback":
        return run_rollback(args.to)
    if args.command == "nightly":
        ok = run_nightly(args.as_of, make_current=args.make_current, full_refresh=args.full_refresh)
        print_status()
        return 0 if ok else 1
    if args.command == "backfill":
        import datetime as dt

        day, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
        failed = []
        refresh = args.full_refresh  # an incremental night equals a full rebuild: one refresh suffices
        while day <= end:  # dates in order: each night's publication becomes current in turn
            if run_nightly(day.isoformat(), full_refresh=refresh):
                refresh = False
            else:
                failed.append(day.isoformat())
            day += dt.timedelta(days=1)
        print_status()
        print(f"backfill: {len(failed)} failed night(s) {failed}" if failed else "backfill: all nights green")
        return 1 if failed else 0
    print_status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
