"""Crash safety and concurrent readers, with real processes: a publisher killed by SIGKILL at a known
step, and a BI-style reader holding the current snapshot open while the next publish prunes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import current_version, published_versions
from tests.test_publish import AS_OF, make_warehouse, publish

REPO = Path(__file__).resolve().parent.parent
WAIT_LIMIT = 60  # generous bound for a slow machine; never a timing assertion


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.returncode}\n{proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"child never reached {path.name}")
        time.sleep(0.05)


PUBLISHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orchestration.publish import publish_run

    warehouse, root, marker, kill_stage = sys.argv[1:5]

    def on_stage(name):
        if name == kill_stage:
            Path(marker).write_text(name)
            time.sleep(600)  # parked here until the test kills us

    def render(snapshot, pages):
        (pages / "index.html").write_text("<p>half-written page", encoding="utf-8")
        on_stage("in_render")

    publish_run(Path(warehouse), Path(root), as_of_date="2026-11-20", run_id="run2",
                code_version="abc", checks=[], render=render, keep=5, on_stage=on_stage)
    """
)


@pytest.mark.parametrize(
    "stage, becomes_current",
    [
        ("snapshot", False),  # hidden folder just created
        ("in_render", False),  # snapshot and parquet written, a page half-written
        ("manifest", False),  # all content written, manifest not yet
        ("rename", False),  # manifest written and sealed, folder still hidden
        ("switch", False),  # folder renamed into place, `current` not yet switched
        ("current_json", True),  # symlink switched, current.json still names the old version
    ],
)
def test_publish_killed_midway_keeps_previous_version(tmp_path: Path, stage: str, becomes_current: bool):
    warehouse = make_warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    publish(warehouse, root, "run1")
    v1, v2 = f"{AS_OF}_run1", f"{AS_OF}_run2"

    marker = tmp_path / "reached"
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(warehouse), str(root), str(marker), stage],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL

    expected = v2 if becomes_current else v1
    assert current_version(root) == expected
    con = duckdb.connect(str(root / "current" / "snapshot.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM marts.mart_client_overview").fetchone()[0] == 3
    con.close()
    assert (root / v1 / "manifest.json").is_file()  # the previous version is intact either way
    # a killed run before the rename leaves only a hidden folder behind
    if stage in ("snapshot", "in_render", "manifest", "rename"):
        assert published_versions(root) == [v1]
        assert any(p.name.startswith(".incoming-") for p in root.iterdir())

    publish(warehouse, root, "run3", keep=5)
    assert current_version(root) == f"{AS_OF}_run3"
    assert not any(p.name.startswith((".incoming-", "current.tmp-")) for p in root.iterdir())
    pointer = json.loads((root / "current.json").read_text(encoding="utf-8"))
    assert pointer["version"] == f"{AS_OF}_run3"
    # a version completed before the kill is a normal (older) version; a half-built one is gone
    assert published_versions(root) == ([v1, v2] if stage in ("switch", "current_json") else [v1]) + [
        f"{AS_OF}_run3"
    ]


READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import duckdb

    root, ready, go, out = (Path(a) for a in sys.argv[1:5])
    # a BI tool: opens the current snapshot read-only and keeps the session open
    con = duckdb.connect(str(root / "current" / "snapshot.duckdb"), read_only=True)
    query = "SELECT count(*), sum(payments) FROM marts.mart_collections_monthly"
    before = con.execute(query).fetchone()
    ready.write_text("open")
    while not go.exists():
        time.sleep(0.05)
    after = con.execute(query).fetchone()
    clients = con.execute("SELECT count(*) FROM marts.mart_client_overview").fetchone()[0]
    con.close()
    reopened = duckdb.connect(str(root / "current" / "snapshot.duckdb"), read_only=True)
    fresh = reopened.execute(query).fetchone()
    reopened.close()
    out.write_text(json.dumps({"before": before, "after": after, "clients": clients, "fresh": fresh}))
    """
)


def test_reader_holding_snapshot_open_while_next_publish_prunes_it(tmp_path: Path):
    warehouse = make_warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    publish(warehouse, root, "run1", keep=1)

    ready, go, out = tmp_path / "ready", tmp_path / "go", tmp_path / "reader.json"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(root), str(ready), str(go), str(out)],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(ready, reader)
        # the next night: one more month in the mart; keep=1 prunes the version the reader has open
        make_warehouse(warehouse, extra_months=1)
        publish(warehouse, root, "run2", keep=1)
        assert published_versions(root) == [f"{AS_OF}_run2"]
        assert not (root / f"{AS_OF}_run1").exists()
        go.write_text("go")
        assert reader.wait(timeout=WAIT_LIMIT) == 0, reader.stderr.read()
    finally:
        if reader.poll() is None:
            reader.kill()
    result = json.loads(out.read_text())
    # 2 months, 12 + 9 payments in the old snapshot; 3 months, 22 payments in the new one
    assert result["before"] == [2, 21]
    assert result["after"] == [2, 21]  # the deleted snapshot is still readable by the open session
    assert result["clients"] == 3
    assert result["fresh"] == [3, 22]  # a new session sees the new version
