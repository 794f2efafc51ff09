"""Publication: folder layout, read-only snapshot, Parquet, manifest, masking, retention, render failure.

Real DuckDB files built here by hand; the expected numbers are counted from the rows below.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import stat
import weakref
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import (
    PersonalDataLeak,
    apply_retention,
    current_version,
    find_unmasked_personal_data,
    publish_run,
    publish_version,
    published_versions,
)
from orchestration.publish.publisher import _order_from_head

AS_OF = "2026-11-20"
CHECKS = [
    {"name": "marts/mart_client_overview:not_null_client_id", "severity": "error", "status": "passed",
     "message": ""},
    {"name": "raw/payments:volume", "severity": "warn", "status": "failed", "message": "付款笔数低于区间"},
]  # fmt: skip

# 3 clients; raw values the warehouse must keep and the published files must never show
CLIENTS = [
    ("C001", "上海甲公司", "13812345678", "91310115MA1K4ABC12", "1200.50"),
    ("C002", "北京乙公司", "+86 139-0000-1111", "91110108551385082Q", "0.00"),
    ("C003", "杭州丙公司", None, None, "300.00"),
]
MONTHS = [("2026-10", "5000.00", 12), ("2026-11", "4200.00", 9)]


def make_warehouse(path: Path, extra_months: int = 0) -> Path:
    """A small working warehouse: two marts, a core table (not published) and the raw bookkeeping."""
    con = duckdb.connect(str(path))
    for schema in ("marts", "core", "raw"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(
        "CREATE OR REPLACE TABLE core.dim_clients (client_id VARCHAR, client_name VARCHAR, "
        "contact_phone VARCHAR, credit_code VARCHAR, outstanding DECIMAL(18,2))"
    )
    con.executemany("INSERT INTO core.dim_clients VALUES (?, ?, ?, ?, ?)", CLIENTS)
    con.execute(
        "CREATE OR REPLACE TABLE marts.mart_client_overview AS SELECT *, "
        "CASE client_id WHEN 'C001' THEN '客户留言：请回电 13987654321，谢谢' ELSE NULL END AS last_feedback "
        "FROM core.dim_clients"
    )
    con.execute(
        "CREATE OR REPLACE TABLE marts.mart_collections_monthly "
        "(period VARCHAR, collected DECIMAL(18,2), payments INTEGER)"
    )
    months = MONTHS + [(f"2027-{m:02d}", "100.00", 1) for m in range(1, extra_months + 1)]
    con.executemany("INSERT INTO marts.mart_collections_monthly VALUES (?, ?, ?)", months)
    con.execute(
        "CREATE OR REPLACE TABLE raw.load_files (load_id VARCHAR, entity VARCHAR, source_file VARCHAR, "
        "rows_read INTEGER, rows_accepted INTEGER, rows_rejected INTEGER)"
    )
    con.execute("INSERT INTO raw.load_files VALUES ('L1', 'clients', 'clients/2026-11-20.csv', 4, 3, 1)")
    con.execute(
        "CREATE OR REPLACE TABLE raw.load_rejects (load_id VARCHAR, entity VARCHAR, source_file VARCHAR, "
        "source_line INTEGER, reason VARCHAR, raw_record JSON)"
    )
    con.execute(
        "INSERT INTO raw.load_rejects VALUES ('L1', 'clients', 'clients/2026-11-20.csv', 5, "
        "'status: 非法枚举 invalid enum', "
        """'{"客户编号": "C004", "联系电话": "15011112222", "统一社会信用代码": "91440300MA5FXXXX1K"}')"""
    )
    con.execute("CREATE OR REPLACE TABLE raw.load_runs (load_id VARCHAR, entity VARCHAR, rows_read INTEGER)")
    con.execute("INSERT INTO raw.load_runs VALUES ('L1', 'clients', 4)")
    con.close()
    return path


def publish(warehouse: Path, root: Path, run_id: str, **kwargs) -> Path:
    kwargs.setdefault("checks", CHECKS)
    return publish_run(warehouse, root, as_of_date=AS_OF, run_id=run_id, code_version="abc123", **kwargs)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return make_warehouse(tmp_path / "warehouse.duckdb")


def test_clean_publish_layout_snapshot_parquet_manifest(warehouse: Path, tmp_path: Path):
    root = tmp_path / "published"
    folder = publish(warehouse, root, "run1")

    assert folder == root / f"{AS_OF}_run1" and folder.is_dir()
    link = root / "current"
    assert link.is_symlink() and os.readlink(link) == f"{AS_OF}_run1"  # relative target
    assert link.resolve() == folder.resolve()
    pointer = json.loads((root / "current.json").read_text(encoding="utf-8"))
    assert pointer["version"] == f"{AS_OF}_run1" and pointer["snapshot"] == f"{AS_OF}_run1/snapshot.duckdb"
    entries = sorted(p.name for p in root.iterdir())
    assert entries == [".publish.lock", f"{AS_OF}_run1", "current", "current.json"]

    snapshot = link / "snapshot.duckdb"
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o444
    assert not (folder / "snapshot.duckdb.wal").exists()
    con = duckdb.connect(str(snapshot), read_only=True)
    tables = con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1").fetchall()
    # all marts + the three raw bookkeeping tables; core is not published
    assert [t[0] for t in tables] == [
        "marts.mart_client_overview",
        "marts.mart_collections_monthly",
        "raw.load_files",
        "raw.load_rejects",
        "raw.load_runs",
    ]
    assert con.execute("SELECT count(*) FROM marts.mart_client_overview").fetchone()[0] == 3
    monthly = con.execute("SELECT period, collected, payments FROM marts.mart_collections_monthly ORDER BY 1")
    monthly = [(p, str(c), n) for p, c, n in monthly.fetchall()]
    assert monthly == [("2026-10", "5000.00", 12), ("2026-11", "4200.00", 9)]
    total = con.execute("SELECT sum(outstanding) FROM marts.mart_client_overview").fetchone()[0]
    assert str(total) == "1500.50"
    with pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE marts.x AS SELECT 1")  # read-only connection
    # Parquet holds exactly the snapshot's rows
    for name in ("marts.mart_client_overview", "marts.mart_collections_monthly", "raw.load_rejects"):
        from_snapshot = con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
        # the documented way BI tools read a table: every part file of its folder (small: all.parquet)
        from_parquet = con.execute(
            f"SELECT * FROM read_parquet('{folder}/parquet/{name}/*.parquet') ORDER BY ALL"
        ).fetchall()
        assert from_parquet == from_snapshot
        assert [p.name for p in (folder / "parquet" / name).iterdir()] == ["all.parquet"]
    con.close()

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of_date"] == AS_OF and manifest["run_id"] == "run1"
    assert manifest["code_version"] == "abc123" and manifest["created_at"]
    assert {t["name"]: t["rows"] for t in manifest["tables"]} == {
        "marts.mart_client_overview": 3,
        "marts.mart_collections_monthly": 2,
        "raw.load_files": 1,
        "raw.load_rejects": 1,
        "raw.load_runs": 1,
    }
    for t in manifest["tables"]:  # small tables: one part, the whole table
        assert t["parquet"] == f"parquet/{t['name']}/*.parquet" and t["parts_by"] in ("", "period")
        assert [(p["file"], p["part"], p["rows"]) for p in t["parts"]] == [
            (f"parquet/{t['name']}/all.parquet", "all", t["rows"])
        ]
    assert [c["status"] for c in manifest["checks"]] == ["passed", "failed"]
    assert manifest["checks"][1]["message"] == "付款笔数低于区间"
    assert manifest["pages"] == []
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted(manifest["files"]) == [f for f in files if f != "manifest.json"]
    for rel, info in manifest["files"].items():
        assert info["sha256"] == sha256(folder / rel)
    # every published file is read-only
    assert all(stat.S_IMODE((folder / f).stat().st_mode) == 0o444 for f in files)


def test_published_files_are_masked_and_warehouse_keeps_raw(warehouse: Path, tmp_path: Path):
    root = tmp_path / "published"

    def render(snapshot: Path, pages: Path) -> None:
        # a page and a CSV built from the snapshot, as a renderer would
        con = duckdb.connect(str(snapshot), read_only=True)
        rows = con.execute(
            "SELECT client_id, contact_phone, credit_code FROM marts.mart_client_overview ORDER BY 1"
        ).fetchall()
        con.close()
        cells = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
        (pages / "clients").mkdir()
        (pages / "clients" / "index.html").write_text(f"<table>{cells}</table>", encoding="utf-8")
        (pages / "clients.csv").write_text("\n".join(",".join(map(str, r)) for r in rows), encoding="utf-8")

    # the scanner does find the raw values: the check below can fail
    leaks = find_unmasked_personal_data(tmp_path)
    # "+86 139-0000-1111" counts too: the scanner reads through prefixes and separators
    assert "warehouse.duckdb: marts.mart_client_overview.contact_phone: 2 unmasked mobile number(s)" in leaks
    assert "warehouse.duckdb: marts.mart_client_overview.credit_code: 2 unmasked credit code(s)" in leaks
    assert "warehouse.duckdb: raw.load_rejects.raw_record: 1 unmasked mobile number(s)" in leaks

    folder = publish(warehouse, root, "run1", render=render)
    assert find_unmasked_personal_data(root) == []

    con = duckdb.connect(str(folder / "snapshot.duckdb"), read_only=True)
    masked = con.execute(
        "SELECT client_id, contact_phone, credit_code, last_feedback "
        "FROM marts.mart_client_overview ORDER BY 1"
    ).fetchall()
    assert masked == [
        ("C001", "138****5678", "913101********BC12", "客户留言：请回电 139****4321，谢谢"),
        ("C002", "139****1111", "911101********082Q", None),  # +86 prefix and separators dropped
        ("C003", None, None, None),
    ]
    record = json.loads(con.execute("SELECT raw_record FROM raw.load_rejects").fetchone()[0])
    assert record == {"客户编号": "C004", "联系电话": "150****2222", "统一社会信用代码": "914403********XX1K"}
    parquet = con.execute(
        f"SELECT contact_phone FROM read_parquet('{folder}/parquet/marts.mart_client_overview/*.parquet') "
        "ORDER BY client_id"
    ).fetchall()
    assert parquet == [("138****5678",), ("139****1111",), (None,)]
    con.close()
    page = (folder / "pages" / "clients" / "index.html").read_text(encoding="utf-8")
    assert "<td>138****5678</td><td>913101********BC12</td>" in page
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["pages"] == ["pages/clients.csv", "pages/clients/index.html"]

    raw = duckdb.connect(str(warehouse), read_only=True)
    assert raw.execute(
        "SELECT contact_phone, credit_code FROM marts.mart_client_overview WHERE client_id = 'C001'"
    ).fetchone() == ("13812345678", "91310115MA1K4ABC12")
    raw.close()


def test_scanner_on_text_files(tmp_path: Path):
    (tmp_path / "ok.html").write_text(
        "<p>138****5678 913101********BC12 213812345678 1381234567 2026112013000000</p>", encoding="utf-8"
    )
    # metric values: 18 and 11 fraction digits of a decimal number are not a code or a phone
    (tmp_path / "metrics.json").write_text('{"observed": 0.011029411764705883, "r": 0.13812345678}')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.json").write_text('{"tel": "电话13812345678"}', encoding="utf-8")
    (tmp_path / "sub" / "list.csv").write_text("id,code\n1,91310115MA1K4ABC12\n", encoding="gb18030")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\x00\x0013812345678")  # a real image format: skipped
    # a file with NUL bytes is still read: UTF-16 text, and a text file with a stray NUL
    (tmp_path / "utf16.txt").write_bytes("电话 138-1234-5678".encode("utf-16"))
    (tmp_path / "nul.log").write_bytes(b"\x00\x00 tel 13812345678\n")
    assert find_unmasked_personal_data(tmp_path) == [
        "nul.log: line 1: 1 unmasked mobile number(s)",
        "sub/data.json: line 1: 1 unmasked mobile number(s)",
        "sub/list.csv: line 2: 1 unmasked credit code(s)",
        "utf16.txt: line 1: 1 unmasked mobile number(s)",
    ]


def test_renderer_leaking_raw_data_is_not_published(warehouse: Path, tmp_path: Path):
    root = tmp_path / "published"

    def leaky_render(snapshot: Path, pages: Path) -> None:
        (pages / "index.html").write_text("<p>联系电话 13812345678</p>", encoding="utf-8")

    with pytest.raises(PersonalDataLeak, match="pages/index.html"):
        publish(warehouse, root, "run1", render=leaky_render)
    assert published_versions(root) == [] and current_version(root) is None
    assert [p.name for p in root.iterdir()] == [".publish.lock"]


def test_render_exception_publishes_nothing_and_keeps_current(warehouse: Path, tmp_path: Path):
    root = tmp_path / "published"
    publish(warehouse, root, "run1")
    pointer_before = (root / "current.json").read_bytes()

    def broken_render(snapshot: Path, pages: Path) -> None:
        (pages / "half.html").write_text("<p>half", encoding="utf-8")
        raise RuntimeError("template error")

    with pytest.raises(RuntimeError, match="template error"):
        publish(warehouse, root, "run2", render=broken_render)
    assert gc.isenabled()  # the collector, off while publishing, is back on after a failure too
    assert published_versions(root) == [f"{AS_OF}_run1"]
    assert current_version(root) == f"{AS_OF}_run1"
    assert (root / "current.json").read_bytes() == pointer_before
    assert not any(p.name.startswith(".incoming-") for p in root.iterdir())


class _Node:
    other: _Node | None = None


def test_publication_runs_without_the_collector_and_collects_once_after(warehouse: Path, tmp_path: Path):
    root = tmp_path / "published"
    seen: list = []

    def render(snapshot: Path, pages: Path) -> None:
        seen.append(gc.isenabled())
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a reference cycle the render drops: only the collector frees it
        seen.append(weakref.ref(a))
        (pages / "index.html").write_text("<p>ok</p>", encoding="utf-8")

    collections: list[tuple[int, int]] = []

    def record(phase: str, info: dict) -> None:
        if phase == "stop":
            collections.append((info["generation"], info["collected"]))

    assert gc.isenabled()
    gc.collect()  # the counts start at zero: nothing is due before the publication starts
    gc.callbacks.append(record)
    try:
        publish(warehouse, root, "run1", render=render)
    finally:
        gc.callbacks.remove(record)
    enabled_in_render, cycle = seen
    assert enabled_in_render is False
    assert gc.isenabled() and cycle() is None  # back on; the cycle freed by the one collection after
    [(generation, collected)] = collections  # none while publishing: one full collection at the end
    assert generation == 2 and collected >= 2

    # a caller that holds the collector off keeps it off, and nothing is collected for it
    seen.clear()
    gc.disable()
    try:
        publish(warehouse, root, "run2", render=render)
        assert seen[0] is False and not gc.isenabled() and seen[1]() is not None
    finally:
        gc.enable()
    gc.collect()
    assert seen[1]() is None


def test_retention_keeps_newest_and_never_the_current(warehouse: Path, tmp_path: Path):
    root = tmp_path / "published"
    for i in range(1, 5):
        publish(warehouse, root, f"run{i}", keep=2)
    assert published_versions(root) == [f"{AS_OF}_run3", f"{AS_OF}_run4"]
    assert current_version(root) == f"{AS_OF}_run4"
    manifest = json.loads((root / f"{AS_OF}_run4" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sequence"] == 4

    # an operator rolled `current` back to the older version: pruning to 1 keeps it and the newest
    publish(warehouse, root, "run5", keep=3)
    os.replace(_symlink(root, f"{AS_OF}_run3"), root / "current")
    assert apply_retention(root, keep=1) == [f"{AS_OF}_run4"]
    assert published_versions(root) == [f"{AS_OF}_run3", f"{AS_OF}_run5"]


def test_publish_version_hands_back_the_manifest_and_its_order_is_read_from_its_head(
    warehouse: Path, tmp_path: Path
):
    root = tmp_path / "published"
    publish(warehouse, root, "run1")
    published = publish_version(
        warehouse, root, as_of_date=AS_OF, run_id="run2", code_version="abc123", checks=CHECKS
    )
    path = published.folder / "manifest.json"
    text = path.read_text(encoding="utf-8")
    # what the asset gets is what was written, spelled as json's two-space indent spells it
    assert published.folder == root / f"{AS_OF}_run2" and json.loads(text) == published.manifest
    assert text == json.dumps(published.manifest, ensure_ascii=False, indent=2) + "\n"
    assert published.manifest["sequence"] == 2
    assert _order_from_head(path) == (2, published.manifest["created_at"])
    # a manifest not spelled so (another indent) is parsed whole: the order is the same
    other = tmp_path / "other.json"
    other.write_text(json.dumps(published.manifest, indent=4), encoding="utf-8")
    assert _order_from_head(other) is None
    os.chmod(path, 0o644)
    path.write_text(json.dumps({**published.manifest, "sequence": 0}, indent=4), encoding="utf-8")
    assert published_versions(root) == [f"{AS_OF}_run2", f"{AS_OF}_run1"]  # sequence 0 before 1


def _symlink(root: Path, target: str) -> Path:
    tmp = root / "rollback.tmp"
    os.symlink(target, tmp)
    return tmp


def test_same_version_twice_is_refused(warehouse: Path, tmp_path: Path):
    root = tmp_path / "published"
    publish(warehouse, root, "run1")
    with pytest.raises(FileExistsError):
        publish(warehouse, root, "run1")
    assert current_version(root) == f"{AS_OF}_run1"


def test_nothing_to_publish_without_marts(tmp_path: Path):
    wh = tmp_path / "empty.duckdb"
    duckdb.connect(str(wh)).close()
    with pytest.raises(ValueError, match="nothing to publish"):
        publish(wh, tmp_path / "published", "run1")
    assert current_version(tmp_path / "published") is None


def test_second_publication_links_unchanged_key_data_and_scans_only_new_files(
    warehouse, tmp_path, monkeypatch
):
    """Template pages through real publications: a key whose data did not change keeps its file (same
    inode, not rewritten, not hashed or scanned again); a changed key's file is new and scanned."""
    from orchestration.publish import publisher, scanner
    from orchestration.render import render_site
    from orchestration.render.hooks import previous_pages

    fixtures = Path(__file__).parent / "fixtures" / "render"
    data = tmp_path / "pages.duckdb"  # the renderer fixture's tables (clients C001, C002, C'03)
    with duckdb.connect(str(data)) as con:
        con.execute((fixtures / "snapshot.sql").read_text(encoding="utf-8"))
    context = {"as_of_date": AS_OF, "run_id": "r", "quality_status": "通过"}

    def render(_snapshot: Path, pages: Path) -> None:
        render_site(fixtures / "pages", data, pages, context, previous_dir=previous_pages(pages))

    scanned: list[str] = []
    real_read = scanner._read_file  # every text file the scanner reads
    monkeypatch.setattr(scanner, "_read_file", lambda p: scanned.append(p.name) or real_read(p))
    root = tmp_path / "published"
    v1 = publish(warehouse, root, "run1", render=render)
    assert {"C001.js", "C002.js", "C'03.js", "index.html"} <= set(scanned)  # first night: every file
    manifest1 = json.loads((v1 / "manifest.json").read_text(encoding="utf-8"))
    assert manifest1["page_summary"] == {"files": 11, "html_pages": 2, "key_data_files": 3, "other_files": 6}
    with duckdb.connect(str(data)) as con:  # the next night: one client's payments change
        con.execute("update marts.payments set amount = amount + 1 where client_id = 'C002'")
    scanned.clear()
    v2 = publish(warehouse, root, "run2", render=render)
    data1, data2 = v1 / "pages" / "clients" / "data", v2 / "pages" / "clients" / "data"
    for key in ("C001", "C'03"):  # unchanged: the same file, never rewritten
        assert (data2 / f"{key}.js").stat().st_ino == (data1 / f"{key}.js").stat().st_ino
        assert f"{key}.js" not in scanned
    assert (data2 / "C002.js").stat().st_ino != (data1 / "C002.js").stat().st_ino
    assert "¥2,001.00" in (data2 / "C002.js").read_text(encoding="utf-8")  # its 2,000.00 payment + 1
    assert "¥2,000.00" in (data1 / "C002.js").read_text(encoding="utf-8")  # yesterday's kept as it was
    assert {"C002.js", "manifest.json", "run.js"} <= set(scanned)
    assert publisher.verify_version(root, v2.name) == []  # reused hashes are the files' real hashes
    # a changed scanner scans everything again, linked or not
    monkeypatch.setattr(publisher, "scanner_version", lambda: "another")
    scanned.clear()
    publish(warehouse, root, "run3", render=render)
    assert {"C001.js", "C002.js", "C'03.js"} <= set(scanned)
