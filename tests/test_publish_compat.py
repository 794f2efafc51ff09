"""The published snapshot opens in DuckDB 1.x and carries the dbt descriptions as comments."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import textwrap
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import snapshot as snapshot_module
from orchestration.publish.snapshot import dbt_descriptions
from tests.test_publish import make_warehouse, publish

V1_0_STORAGE = 64  # DuckDB's storage version number of v1.0.0 .. v1.1.x files
OLD_DUCKDB = "duckdb==1.1.3"


def _descriptions(tmp_path: Path) -> dict:
    manifest = {
        "nodes": {
            "model.x.mart_client_overview": {
                "resource_type": "model",
                "schema": "marts",
                "name": "mart_client_overview",
                "description": "客户概览 Client overview, one row per client.",
                "columns": {
                    "client_id": {"description": "客户编号 Client key."},
                    "gone": {"description": "x"},
                },
            },
            "test.x.t": {"resource_type": "test", "schema": "marts", "name": "t", "description": "no"},
        },
        "sources": {
            "source.x.raw.load_files": {
                "resource_type": "source",
                "schema": "raw",
                "name": "load_files",
                "identifier": "load_files",
                "description": "加载文件 One row per file read.",
                "columns": {},
            }
        },
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return dbt_descriptions(path)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("compat")
    warehouse = make_warehouse(tmp / "warehouse.duckdb")
    with pytest.MonkeyPatch.context() as mp:  # the monthly mart in parts (one file per period)
        mp.setattr(snapshot_module, "PARTS_MIN_ROWS", 1)
        folder = publish(warehouse, tmp / "published", "run1", descriptions=_descriptions(tmp))
    monthly = sorted(p.name for p in (folder / "parquet" / "marts.mart_collections_monthly").iterdir())
    assert monthly == ["2026-10.parquet", "2026-11.parquet"]
    return folder / "snapshot.duckdb"


@pytest.fixture(scope="module")
def patched(tmp_path_factory) -> Path:
    """A third night's snapshot, patched in a copy of the second's from the state the second kept
    (the second patched in a copy of the first's: rows deleted and inserted)."""
    tmp = tmp_path_factory.mktemp("compat_patched")
    warehouse = make_warehouse(tmp / "warehouse.duckdb")
    publish(warehouse, tmp / "published", "run1", descriptions=_descriptions(tmp))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("DELETE FROM marts.mart_client_overview WHERE client_id = 'C003'")
        con.execute("UPDATE marts.mart_client_overview SET outstanding = 1 WHERE client_id = 'C002'")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(snapshot_module, "PATCH_MAX_SHARE", 9.0)  # 3 changes in 2 rows: patched anyway
        mp.setattr(snapshot_module, "MAX_GROWTH", 100)  # a small file grows by whole blocks
        folder = publish(warehouse, tmp / "published", "run2", descriptions=_descriptions(tmp))
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        tables = {t["name"]: t for t in manifest["tables"]}
        assert tables["marts.mart_client_overview"]["patched"] == {"deleted": 2, "inserted": 1, "masked": 2}
        with duckdb.connect(str(warehouse)) as con:  # a third night, patched from the kept state
            con.execute("UPDATE marts.mart_client_overview SET outstanding = 2 WHERE client_id = 'C002'")
        folder = publish(warehouse, tmp / "published", "run3", descriptions=_descriptions(tmp))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    tables = {t["name"]: t for t in manifest["tables"]}
    assert tables["marts.mart_client_overview"]["patched"] == {"deleted": 1, "inserted": 1, "masked": 1}
    return folder / "snapshot.duckdb"


@pytest.mark.parametrize("which", ["snapshot", "patched"])
def test_storage_header_is_v1_0(which: str, request):
    header = request.getfixturevalue(which).read_bytes()[:64]
    assert header[8:12] == b"DUCK"
    assert struct.unpack("<Q", header[12:20])[0] == V1_0_STORAGE


def test_comments_from_dbt_descriptions(snapshot: Path):
    con = duckdb.connect(str(snapshot), read_only=True)
    tables = dict(
        con.execute("SELECT schema_name || '.' || table_name, comment FROM duckdb_tables()").fetchall()
    )
    cols = dict(
        con.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'mart_client_overview'"
        ).fetchall()
    )
    con.close()
    assert tables["marts.mart_client_overview"] == "客户概览 Client overview, one row per client."
    assert tables["raw.load_files"] == "加载文件 One row per file read."
    assert tables["marts.mart_collections_monthly"] is None  # no description: no comment
    assert cols["client_id"] == "客户编号 Client key."
    assert cols["contact_phone"] is None


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv not on PATH")
@pytest.mark.parametrize(("which", "clients"), [("snapshot", "3"), ("patched", "2")])
def test_opens_in_duckdb_1_1(which: str, clients: str, request):
    """A real DuckDB 1.1.3 (from PyPI, in an isolated environment) reads it, comments included;
    a patched snapshot too (the copy keeps the v1.0 storage format through deletes and inserts); and
    a table's Parquet folder with the documented glob (in parts in `snapshot`, all.parquet in `patched`)."""
    snapshot = request.getfixturevalue(which)
    script = textwrap.dedent(f"""
        import duckdb
        con = duckdb.connect({str(snapshot)!r}, read_only=True)
        print(duckdb.__version__)
        print(con.execute("SELECT count(*) FROM marts.mart_client_overview").fetchone()[0])
        sql = "SELECT comment FROM duckdb_tables() WHERE table_name = 'mart_client_overview'"
        print(con.execute(sql).fetchone()[0])
        monthly = {str(snapshot.parent / "parquet" / "marts.mart_collections_monthly")!r} + "/*.parquet"
        print(con.execute(f"SELECT count(*) FROM read_parquet('{{monthly}}')").fetchone()[0])
    """)
    out = subprocess.run(
        ["uv", "run", "--isolated", "--no-project", "--with", OLD_DUCKDB, "python", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == ["1.1.3", clients, "客户概览 Client overview, one row per client.", "2"]
