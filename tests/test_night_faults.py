"""Faults of the night, with real processes, real flock and a real Dagster run.

- a second night while one runs is refused at its start with "another night is running" (and no
  "publication held back" claim);
- a night killed with SIGKILL leaves its lock record: the next night clears it, marks the dead
  Dagster run failed and alerts ops once;
- a publish folder that cannot be written stops the night at its start;
- end to end (tests/test_pipeline_e2e.py, on the session's night, with this module's process helpers):
  SIGKILL of the nightly CLI while dbt runs takes the dbt child down with it (no orphan holding the
  warehouse), the next night runs at once, publishes, reports the dead night and equals the first.
(Kill during publish: tests/test_publish_crash.py kills a publisher at every step.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from orchestration.night_guard import (
    DIED_TAG,
    REFUSED_TAG,
    NightGuardResource,
    lock_path,
    night_lock,
    prune_dbt_targets,
)
from orchestration.sensors import notify_run_failure

REPO = Path(__file__).resolve().parent.parent
WAIT_LIMIT = 600  # generous bound for a slow shared machine; never a timing assertion

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orchestration.night_guard import night_lock

    warehouse, marker = sys.argv[1:3]
    with night_lock(Path(warehouse), {"run_id": "holder-run", "as_of_date": "2026-11-19", "pid": 0}):
        Path(marker).write_text("locked")
        time.sleep(600)  # parked until the test kills or stops us
    """
)


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def _wait(predicate, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited early ({proc.returncode}) waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _hold_lock(warehouse: Path, tmp_path: Path) -> subprocess.Popen:
    marker = tmp_path / "locked"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(warehouse), str(marker)], env=_env())
    _wait(marker.exists, "the holder to take the lock", proc)
    return proc


def _tiny_night(warehouse: Path, publish_root: Path, instance: dg.DagsterInstance):
    ran = []

    @dg.asset
    def work(night: NightGuardResource) -> None:  # noqa: ARG001
        ran.append(True)

    defs = dg.Definitions(
        assets=[work],
        jobs=[dg.define_asset_job("nightly", executor_def=dg.in_process_executor)],
        resources={"night": NightGuardResource(warehouse=str(warehouse), publish_root=str(publish_root))},
    )
    result = defs.resolve_job_def("nightly").execute_in_process(
        instance=instance, tags={"opscenter/as_of_date": "2026-11-20"}, raise_on_error=False
    )
    return result, ran


@pytest.fixture
def alerts(tmp_path, monkeypatch):
    log = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("OPSCENTER_ALERT_LOG", str(log))
    monkeypatch.delenv("OPSCENTER_ALERT_URLS", raising=False)
    return lambda: (
        [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    )


def test_second_night_is_refused_clearly(tmp_path, alerts):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = _hold_lock(warehouse, tmp_path)
    try:
        instance = dg.DagsterInstance.ephemeral()
        result, ran = _tiny_night(warehouse, tmp_path / "published", instance)
        assert not result.success and ran == []
        run = instance.get_run_by_id(result.run_id)
        assert run.tags[REFUSED_TAG] == "another_night"
        notify_run_failure(instance, run)
        notify_run_failure(instance, instance.get_run_by_id(result.run_id))  # sensor after CLI: no 2nd alert
    finally:
        holder.kill()
        holder.wait()
    [alert] = alerts()
    assert alert["title"] == "【运营中心·错误】夜间任务未启动：另一夜间任务正在运行"
    assert "发布已暂停" not in alert["text"]  # the running night may well publish
    assert "无需重跑" in alert["text"]


def test_dead_night_is_detected_and_its_lock_cleared(tmp_path, alerts):
    warehouse = tmp_path / "warehouse.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    # the dead night's Dagster run, left STARTED
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    instance.add_run(DagsterRun(job_name="nightly", run_id="holder-run", status=DagsterRunStatus.STARTED))
    holder = _hold_lock(warehouse, tmp_path)
    holder.send_signal(signal.SIGKILL)  # kill -9: no cleanup ran, the record stays in the lock file
    holder.wait()
    assert json.loads(lock_path(warehouse).read_text(encoding="utf-8"))["run_id"] == "holder-run"

    result, ran = _tiny_night(warehouse, tmp_path / "published", instance)
    assert result.success and ran == [True]  # the kernel released the flock: no stale-lock failure
    assert lock_path(warehouse).read_text(encoding="utf-8") == ""  # a night that ends clears it
    dead = instance.get_run_by_id("holder-run")
    assert dead.status == dg.DagsterRunStatus.FAILURE and dead.tags[DIED_TAG] == "1"
    assert notify_run_failure(instance, dead) is None  # the failure sensor does not alert it again
    [alert] = alerts()
    assert alert["title"] == "【运营中心·错误】上一夜任务异常中止"
    assert "holder-run" in alert["text"] and "2026-11-19" in alert["text"]


def test_unwritable_publish_folder_stops_the_night_at_start(tmp_path, alerts):
    (tmp_path / "file").write_text("x")
    instance = dg.DagsterInstance.ephemeral()
    result, ran = _tiny_night(tmp_path / "warehouse.duckdb", tmp_path / "file" / "published", instance)
    assert not result.success and ran == []
    run = instance.get_run_by_id(result.run_id)
    assert run.tags[REFUSED_TAG] == "publish_not_writable"
    notify_run_failure(instance, run)
    [alert] = alerts()
    assert alert["title"] == "【运营中心·错误】夜间任务未启动：发布目录不可写"
    # the lock was released: the next night can take it at once
    with night_lock(tmp_path / "warehouse.duckdb", {"run_id": "next"}) as leftover:
        assert leftover is None


def test_prune_keeps_the_newest_dbt_invocations(tmp_path):
    names = [f"dbt_models-{i:07x}-abcdef{i % 10}" for i in range(9)]
    for i, name in enumerate(names):
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (1_000_000 + i, 1_000_000 + i))
    (tmp_path / "compiled").mkdir()
    (tmp_path / "manifest.json").write_text("{}")
    deleted = prune_dbt_targets(tmp_path, keep=3)
    assert sorted(deleted) == sorted(names[:6])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[6:], "compiled", "manifest.json"])


# ------------------------------------------- process helpers (the end-to-end kill: test_pipeline_e2e)


def _children(pid: int) -> list[tuple[int, str, str]]:
    """(pid, state, cmdline) of the processes whose parent is `pid`."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append((int(entry.name), fields[0], cmd))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] not in "ZX"


def _nightly(env: dict, **kwargs) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "orchestration.cli", "nightly", "--as-of", "2026-11-20"]
    return subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs
    )
