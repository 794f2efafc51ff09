"""The night's event log storage (orchestration/event_log.py): what it writes, Dagster's own class reads.

Real Dagster runs on a real SQLite instance in a temp DAGSTER_HOME: the night's instance writes with
its kept connections; a second instance built by Dagster alone (as the webserver, the daemon and the
sensors get theirs), and another process writing at the same time, read and write the same files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log import SqliteEventLogStorage

from orchestration.event_log import KeptConnectionSqliteEventLogStorage, night_instance
from orchestration.failure_report import check_evaluations


@dg.asset(
    check_specs=[dg.AssetCheckSpec("positive", asset="amounts"), dg.AssetCheckSpec("unique", asset="amounts")]
)
def amounts(context):
    context.log.info("amounts: 3 rows")
    yield dg.MaterializeResult(metadata={"rows": 3})
    yield dg.AssetCheckResult(check_name="positive", passed=True)
    yield dg.AssetCheckResult(
        check_name="unique", passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata={"duplicates": 2}
    )


@dg.asset(deps=[amounts])
def totals():
    return 7


NIGHT = dg.define_asset_job("night", selection=[amounts, totals])
DEFS = dg.Definitions(assets=[amounts, totals], jobs=[NIGHT])

OTHER_PROCESS = """
import sys, dagster as dg
@dg.asset
def other():
    return 1
instance = dg.DagsterInstance.from_config(sys.argv[1])
result = dg.materialize([other], instance=instance)
print(result.run_id)
"""


def _run(instance: dg.DagsterInstance) -> str:
    result = DEFS.resolve_job_def("night").execute_in_process(instance=instance, raise_on_error=False)
    return result.run_id


def _seen(instance: dg.DagsterInstance, run_id: str) -> list[tuple]:
    records = instance.get_records_for_run(run_id, limit=10_000).records
    return [
        (r.storage_id, r.event_log_entry.dagster_event_type, r.event_log_entry.user_message) for r in records
    ]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "dagster.yaml").write_text("")  # as `make setup` leaves it
    return tmp_path


def test_what_the_night_writes_dagsters_own_instance_reads(home: Path, monkeypatch: pytest.MonkeyPatch):
    night = night_instance(home)
    assert isinstance(night.event_log_storage, KeptConnectionSqliteEventLogStorage)
    run_id = _run(night)
    plain = dg.DagsterInstance.from_config(str(home))  # the webserver's / daemon's / sensors' instance
    assert type(plain.event_log_storage).__name__ == "SqliteEventLogStorage"
    seen = _seen(plain, run_id)
    assert seen == _seen(night, run_id)
    types = [t for _, t, _ in seen]
    assert types.count("ASSET_MATERIALIZATION") == 2 and types.count("ASSET_CHECK_EVALUATION") == 2
    assert types.count("ASSET_MATERIALIZATION_PLANNED") == 2 and types[-1] == dg.DagsterEventType.RUN_SUCCESS
    assert any("amounts: 3 rows" in (m or "") for _, _, m in seen)
    # the index shard (asset catalogue, run history) and the check results the failure report reads
    latest = plain.get_latest_materialization_event(dg.AssetKey("amounts"))
    assert latest.run_id == run_id and latest.asset_materialization.metadata["rows"].value == 3
    failed = [e for e in check_evaluations(plain, run_id) if not e.passed]
    assert [(e.check_name, e.metadata["duplicates"].value) for e in failed] == [("unique", 2)]
    assert plain.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
    # the night's kept connections commit without an fsync each (WAL, synchronous NORMAL = 1)
    storage = night.event_log_storage
    for shard in (run_id, "index"):
        with storage._connect(shard) as conn:
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("pragma synchronous").scalar() == 1
    # a table found once is not looked up again (Dagster's lookup opens a connection per call)
    asked: list[str] = []
    dagsters = SqliteEventLogStorage.has_table
    monkeypatch.setattr(SqliteEventLogStorage, "has_table", lambda s, t: asked.append(t) or dagsters(s, t))
    storage._tables_present.clear()
    tables = ("asset_check_executions", "asset_check_executions", "nope", "nope")
    found = [storage.has_table(t) for t in tables]
    assert found == [True, True, False, False]
    assert asked == ["asset_check_executions", "nope", "nope"]
    night.dispose()


def test_another_process_writes_while_the_night_keeps_its_connections(home: Path):
    night = night_instance(home)
    first = _run(night)  # the night's connections to the index and its run shard stay open
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(home)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.split()[-1]
    second = _run(night)
    plain = dg.DagsterInstance.from_config(str(home))
    for instance in (night, plain):
        assert {r.run_id for r in instance.get_runs()} == {first, other, second}
        assert instance.get_latest_materialization_event(dg.AssetKey("other")).run_id == other
        assert instance.get_latest_materialization_event(dg.AssetKey("amounts")).run_id == second
    assert _seen(plain, second) == _seen(night, second)
    night.dispose()


def test_connections_are_bounded_and_never_shared_with_a_forked_child(home: Path):
    night = night_instance(home)
    storage = night.event_log_storage
    runs = [_run(night) for _ in range(3)]
    assert set(storage._engines) == {"index", *runs}
    storage._engines_pid = -1  # as in a forked child: the parent's connections are not reused
    fourth = _run(night)
    assert set(storage._engines) <= {"index", fourth, *runs} and fourth in storage._engines
    assert len(_seen(night, fourth)) == len(_seen(night, runs[0]))
    night.dispose()
    assert storage._engines == {}


def test_a_home_that_chooses_its_storage_keeps_it(home: Path):
    (home / "dagster.yaml").write_text(
        "event_log_storage:\n  module: dagster._core.storage.event_log\n  class: SqliteEventLogStorage\n"
        f"  config:\n    base_dir: {home / 'elsewhere'}\n"
    )
    instance = night_instance(home)
    assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
    run_id = _run(instance)
    assert (home / "elsewhere" / f"{run_id}.db").is_file()
