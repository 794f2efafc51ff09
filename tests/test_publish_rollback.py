"""Rollback: `current` moves back to an earlier kept version, atomically and only to an intact one;
the operator's command tells ops through the real alert channel (a webhook on 127.0.0.1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from orchestration import cli
from orchestration.publish import RollbackError, current_version, rollback, verify_version
from tests.test_ops_alerts import webhook  # noqa: F401 - real HTTP receiver on 127.0.0.1
from tests.test_publish import AS_OF, make_warehouse, publish


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Three nights published from warehouses with 0, 1 and 2 extra months of collections."""
    out = tmp_path / "published"
    for i in range(3):
        wh = make_warehouse(tmp_path / f"w{i}.duckdb", extra_months=i)
        publish(wh, out, f"run{i + 1}")
    return out


def _months_in_current(root: Path) -> int:
    with duckdb.connect(str(root / "current" / "snapshot.duckdb"), read_only=True) as con:
        return con.execute("select count(*) from marts.mart_collections_monthly").fetchone()[0]


def test_rollback_to_previous_then_to_a_named_version(root: Path):
    assert _months_in_current(root) == 4  # run3: 2 base months + 2 extra
    assert rollback(root) == (f"{AS_OF}_run3", f"{AS_OF}_run2")
    assert current_version(root) == f"{AS_OF}_run2"
    assert _months_in_current(root) == 3
    pointer = json.loads((root / "current.json").read_text(encoding="utf-8"))
    assert pointer["version"] == f"{AS_OF}_run2" and pointer["run_id"] == "run2"
    # "previous" is relative to what is current now
    assert rollback(root) == (f"{AS_OF}_run2", f"{AS_OF}_run1")
    assert _months_in_current(root) == 2
    assert rollback(root, f"{AS_OF}_run3") == (f"{AS_OF}_run1", f"{AS_OF}_run3")
    assert _months_in_current(root) == 4


def test_rollback_refusals_leave_current_alone(root: Path):
    with pytest.raises(RollbackError, match="no such version"):
        rollback(root, f"{AS_OF}_nope")
    with pytest.raises(RollbackError, match="already current"):
        rollback(root, f"{AS_OF}_run3")
    rollback(root, f"{AS_OF}_run1")
    with pytest.raises(RollbackError, match="no earlier version"):
        rollback(root)
    assert current_version(root) == f"{AS_OF}_run1"


def test_damaged_version_is_not_made_current(root: Path):
    snap = root / f"{AS_OF}_run2" / "snapshot.duckdb"
    os.chmod(snap, 0o644)
    with open(snap, "r+b") as fh:  # flip one byte in the middle of the file
        fh.seek(snap.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))
    damaged = f"{AS_OF}_run2/snapshot.duckdb: changed since publication"
    assert verify_version(root, f"{AS_OF}_run2") == [damaged]
    with pytest.raises(RollbackError, match="damaged version"):
        rollback(root)
    assert current_version(root) == f"{AS_OF}_run3"


def test_cli_rollback_alerts_ops(root: Path, tmp_path: Path, webhook, monkeypatch, capsys):  # noqa: F811
    port, received = webhook
    monkeypatch.setenv("OPSCENTER_PUBLISH_DIR", str(root))
    monkeypatch.setenv("OPSCENTER_ALERT_URLS", f"json://127.0.0.1:{port}/ops")
    monkeypatch.setenv("OPSCENTER_ALERT_LOG", str(tmp_path / "alerts.jsonl"))
    assert cli.main(["rollback"]) == 0
    assert current_version(root) == f"{AS_OF}_run2"
    assert f"current  -> {AS_OF}_run2" in capsys.readouterr().out
    assert len(received) == 1
    payload = received[0][1]
    assert "报表已回滚" in payload["title"]
    assert f"{AS_OF}_run3" in payload["message"] and f"{AS_OF}_run2" in payload["message"]
    # a refused rollback changes nothing and sends nothing
    assert cli.main(["rollback", "--to", "2026-01-01_missing"]) == 2
    assert current_version(root) == f"{AS_OF}_run2" and len(received) == 1
