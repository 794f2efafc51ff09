"""The night guard: one night at a time per warehouse, and what a dead night left behind.

A Dagster resource (`night`) set up once when a nightly run starts (in-process executor) and torn
down when it ends. At the start it:
1. takes an exclusive flock on `<warehouse>.night.lock`; if another live night holds it, this run
   is refused with "another night is running" (tag `opscenter/refused=another_night`) before doing
   anything. The kernel drops a flock when its process dies, so a dead night never blocks the next;
2. reads what the lock file still says: a night that ended normally clears it, so a leftover record
   means that night died (kill -9, OOM). Its Dagster run, still STARTED, and any other STARTED
   nightly run older than STALE_AFTER, is marked failed (tag `opscenter/died`) and ops are alerted
   once ("上一夜任务异常中止");
3. checks the publish folder is writable (refused with `publish_not_writable` otherwise), so a
   read-only folder is found before the work, not after it;
4. prunes dagster-dbt's per-invocation folders under dbt_project/target (keeps the newest few);
5. starts importing the later steps' libraries on the idle core while the loads run, and freezes
   the process's heap for the collector until the night ends (warmup.py).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
import socket
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg

from orchestration import settings, warmup
from orchestration.ops_alerts import send_ops_alert
from orchestration.publish import check_writable

DBT_CHILD = Path(__file__).resolve().parent / "bin" / "dbt-child"
LOCK_SUFFIX = ".night.lock"
STALE_AFTER = dt.timedelta(minutes=10)  # a live night takes the lock within seconds of starting
KEEP_DBT_TARGETS = 6
DBT_INVOCATION_RE = re.compile(r"^\w+-[0-9a-f]{7}-[0-9a-f]{7}$")
REFUSED_TAG = "opscenter/refused"
DIED_TAG = "opscenter/died"


class NightRefused(RuntimeError):
    """This night must not run now (another night holds the warehouse, or publishing cannot work)."""


def lock_path(warehouse: Path) -> Path:
    warehouse = Path(warehouse)
    return warehouse.with_name(warehouse.name + LOCK_SUFFIX)


def _read_record(fh) -> dict | None:
    fh.seek(0)
    text = fh.read().strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"raw": text[:200]}


def _write_record(fh, record: dict | None) -> None:
    fh.seek(0)
    fh.truncate()
    if record is not None:
        fh.write(json.dumps(record, ensure_ascii=False))
    fh.flush()
    os.fsync(fh.fileno())


@contextmanager
def night_lock(warehouse: Path, record: dict):
    """Hold the warehouse's night lock; yields what a dead previous night left (or None).

    Raises NightRefused when another live night holds it."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_record(fh) or {}
            raise NightRefused(
                "另一夜间任务正在运行 another night is running on this warehouse: "
                f"run {holder.get('run_id', '?')} (pid {holder.get('pid', '?')}, "
                f"since {holder.get('started_at', '?')})"
            ) from None
        leftover = _read_record(fh)
        _write_record(fh, record)
        try:
            yield leftover
        finally:
            _write_record(fh, None)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def prune_dbt_targets(target_root: Path | None = None, keep: int = KEEP_DBT_TARGETS) -> list[str]:
    """Delete all but the newest `keep` dagster-dbt invocation folders; returns the deleted names."""
    root = target_root or settings.DBT_PROJECT_DIR / "target"
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and DBT_INVOCATION_RE.match(p.name)]
    doomed = sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)[keep:]
    for folder in doomed:
        shutil.rmtree(folder, ignore_errors=True)
    return [p.name for p in doomed]


def _dead_runs(
    instance: dg.DagsterInstance, current: dg.DagsterRun | None, leftover: dict | None
) -> list[dg.DagsterRun]:
    """STARTED runs that cannot be alive: the one the leftover lock names, and any run of the same
    job older than STALE_AFTER (a live night would hold the lock we just took)."""
    job = current.job_name if current is not None else None
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    named = (leftover or {}).get("run_id")
    cutoff = (dt.datetime.now(dt.UTC) - STALE_AFTER).timestamp()
    dead = []
    for run in runs:
        if current is not None and run.run_id == current.run_id:
            continue
        if run.run_id != named and run.job_name != job:
            continue
        record = instance.get_run_record_by_id(run.run_id)
        started = record.start_time if record and record.start_time else cutoff + 1
        if run.run_id == named or started < cutoff:
            dead.append(run)
    return dead


def report_dead_night(
    instance: dg.DagsterInstance | None, current: dg.DagsterRun | None, leftover: dict | None
) -> dict | None:
    """Mark the dead night's runs failed and alert ops once. None when nothing died."""
    runs = _dead_runs(instance, current, leftover) if instance is not None else []
    if leftover is None and not runs:
        return None
    for run in runs:
        instance.add_run_tags(run.run_id, {DIED_TAG: "1"})  # the failure sensor skips these
        instance.report_run_failed(run, "夜间任务进程已不存在（被终止或内存不足），由下一次运行标记为失败")
    died = leftover or {}
    as_of = died.get("as_of_date") or next((r.tags.get("opscenter/as_of_date") for r in runs), None)
    ids = list(dict.fromkeys([*([died["run_id"]] if died.get("run_id") else []), *(r.run_id for r in runs)]))
    return send_ops_alert(
        "上一夜任务异常中止",
        "上一次夜间任务在运行中途终止（被 kill、内存不足或机器重启），没有正常结束；"
        "锁已安全清除，报表仍为之前的版本（半成品从不发布）。",
        level="error",
        context={
            "as_of_date": as_of,
            "failures": [f"运行 {i} 已不存在，已标记为失败" for i in ids],
            "details": [f"上次锁记录：{json.dumps(died, ensure_ascii=False)}" if died else "无锁记录"],
            "next_step": f"查明终止原因（dmesg 的 OOM、人工 kill）后重跑 `make nightly AS_OF={as_of or '…'}`",
            "event": "dead_night",
        },
    )


def _refuse(context, reason: str, exc: Exception):
    if context.instance is not None and context.run is not None:
        context.instance.add_run_tags(context.run.run_id, {REFUSED_TAG: reason})
    raise NightRefused(str(exc)) from exc


class NightGuardResource(dg.ConfigurableResource):
    """Guards the night on `warehouse` publishing to `publish_root` (see the module docstring)."""

    warehouse: str = str(settings.warehouse_path())
    publish_root: str = str(settings.publish_dir())

    def _record(self, context) -> dict:
        run = context.run
        return {
            "run_id": run.run_id if run else None,
            "as_of_date": run.tags.get("opscenter/as_of_date") if run else None,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        with ExitStack() as stack:
            try:
                leftover = stack.enter_context(night_lock(Path(self.warehouse), self._record(context)))
            except NightRefused as exc:
                _refuse(context, "another_night", exc)
            report_dead_night(context.instance, context.run, leftover)
            try:
                check_writable(Path(self.publish_root))
            except PermissionError as exc:
                _refuse(context, "publish_not_writable", exc)
            warmup.start()  # the gates' and the renewal model's imports, beside the loads
            stack.enter_context(warmup.frozen_heap())  # the night-long heap out of the collector's passes
            pruned = prune_dbt_targets()
            if pruned and context.log:
                context.log.info(f"pruned {len(pruned)} old dbt target folder(s)")
            yield self
