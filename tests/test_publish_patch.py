"""The snapshot patched from the previous version equals a fresh build of the same night.

Nights 3 and 4 patch from the private state the nights before kept (only their changed source rows
masked): rows whose masked forms coincide (two phones differing in the hidden digits), duplicates
up and down, and a corrupt or doctored state, which must fall back to masking every row.

Night 1 is published fresh; night 2 deletes, updates and inserts rows (a masked phone among them),
changes duplicate counts, drops a table, adds one and changes a column's type. Its snapshot is
patched in a copy of night 1's file and compared, table by table (schemas, columns and types in
order, comments, rows as multisets, the Parquet files), with a fresh build of night 2. The fallbacks
(masking changed, corrupt previous file, file grown past its bound) must give the fresh build too.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import find_unmasked_personal_data, publisher, scanner, snapshot
from tests.test_publish import publish, sha256

PHONE = "13987654321"
N = 200


def _night1(path: Path) -> Path:
    con = duckdb.connect(str(path))
    for schema in ("marts", "raw"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(
        f"""CREATE TABLE marts.mart_detail AS
        SELECT 'T' || lpad(i::VARCHAR, 4, '0') AS task_id, 'C' || (i % 7) AS client_id,
               CASE WHEN i % 50 = 0 THEN '请回电 {PHONE}' ELSE '备注 ' || i END AS note,
               (i * 1.25)::DECIMAL(18, 2) AS amount, DATE '2026-11-01' + (i % 30)::INTEGER AS due_date,
               'x' || i AS input_fingerprint
        FROM range(1, {N - 2}) AS r(i)"""
    )
    # three identical rows (no unique key) and one single row that night 2 duplicates
    con.execute("INSERT INTO marts.mart_detail SELECT * FROM marts.mart_detail WHERE task_id = 'T0001'")
    con.execute(
        "INSERT INTO marts.mart_detail SELECT * FROM marts.mart_detail WHERE task_id = 'T0001' LIMIT 1"
    )
    con.execute(
        "CREATE TABLE marts.mart_static AS SELECT i AS k, '静态' || i AS label FROM range(10) AS r(i)"
    )
    con.execute("CREATE TABLE marts.mart_gone AS SELECT 1 AS k")
    con.execute("CREATE TABLE marts.mart_typed AS SELECT i AS k, i::INTEGER AS amount FROM range(5) AS r(i)")
    con.execute("CREATE TABLE raw.load_files AS SELECT 'L1' AS load_id, 4 AS rows_read")
    con.close()
    return path


def _night2(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        "DELETE FROM marts.mart_detail WHERE task_id IN ('T0010', 'T0011', 'T0012', 'T0013', 'T0014')"
    )
    con.execute(  # four updates, one of them puts a phone number in
        f"""UPDATE marts.mart_detail SET note = CASE task_id WHEN 'T0020' THEN '新号 +86 {PHONE}'
            ELSE note || ' 改' END, amount = amount + 1
        WHERE task_id IN ('T0020', 'T0021', 'T0022', 'T0023')"""
    )
    con.execute(
        "INSERT INTO marts.mart_detail SELECT 'N' || i, 'C9', CASE WHEN i = 1 THEN '电话 13811112222' END, "
        "i, DATE '2026-11-20', 'y' FROM range(1, 7) AS r(i)"
    )
    con.execute(  # duplicates: 3 -> 2 copies of T0001, 1 -> 2 copies of T0002
        "DELETE FROM marts.mart_detail WHERE task_id = 'T0001'; "
        "INSERT INTO marts.mart_detail SELECT 'T0001', 'C1', '备注 1', 1.25, DATE '2026-11-02', 'x1' "
        "FROM range(2); "
        "INSERT INTO marts.mart_detail SELECT * FROM marts.mart_detail WHERE task_id = 'T0002'"
    )
    con.execute("DROP TABLE marts.mart_gone")
    con.execute("CREATE TABLE marts.mart_new AS SELECT 'C1' AS client_id, 2 AS n")
    con.execute(
        "CREATE OR REPLACE TABLE marts.mart_typed AS SELECT i AS k, i::BIGINT AS amount FROM range(5) AS r(i)"
    )
    con.close()


DESCRIPTIONS_1 = {
    ("marts", "mart_detail"): ("任务明细 Task detail.", {"task_id": "任务编号", "note": "备注 Note."}),
    ("marts", "mart_gone"): ("Gone.", {}),
}
DESCRIPTIONS_2 = {  # the note's description removed, the amount's added, the table's reworded
    ("marts", "mart_detail"): (
        "任务明细 Task detail, one row per task.",
        {"task_id": "任务编号", "amount": "金额"},
    ),
    ("marts", "mart_new"): ("新表 New.", {"n": "数量"}),
}


def _contents(path: Path, order: str = "ALL") -> tuple[list, dict]:
    """Schemas, and per table: its comment, columns (name, type, comment) in order, rows sorted
    (`order`: `rowid`, the table's own order)."""
    with duckdb.connect(str(path), read_only=True) as con:
        schemas = con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() ORDER BY 1"
        ).fetchall()
        out = {}
        for schema, table, comment in con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() ORDER BY 1, 2"
        ).fetchall():
            columns = con.execute(
                "SELECT column_name, data_type, comment FROM duckdb_columns() "
                "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, table],
            ).fetchall()
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY {order}').fetchall()
            out[f"{schema}.{table}"] = (comment, columns, rows)
    return schemas, out


def _parquet(folder: Path) -> dict:
    with duckdb.connect() as con:
        return {
            p.relative_to(folder).as_posix(): (
                con.execute(f"DESCRIBE SELECT * FROM '{p}'").fetchall(),
                con.execute(f"SELECT * FROM '{p}' ORDER BY ALL").fetchall(),
            )
            for p in sorted(folder.rglob("*.parquet"))
        }


def _fresh(wh: Path, folder: Path) -> Path:
    snapshot.build_snapshot(
        wh,
        folder / "snapshot.duckdb",
        folder / "parquet",
        tables=("raw.load_files",),
        descriptions=DESCRIPTIONS_2,
    )
    return folder


def _manifest(version: Path) -> dict:
    return json.loads((version / "manifest.json").read_text(encoding="utf-8"))


def _two_nights(tmp_path: Path) -> tuple[Path, Path, Path]:
    wh = _night1(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = publish(wh, root, "run1", tables=("raw.load_files",), descriptions=DESCRIPTIONS_1)
    _night2(wh)
    return wh, root, v1


def _assert_equals_fresh(version: Path, wh: Path, tmp_path: Path) -> None:
    fresh = _fresh(wh, tmp_path / "fresh")
    assert _contents(version / "snapshot.duckdb") == _contents(fresh / "snapshot.duckdb")
    assert _parquet(version / "parquet") == _parquet(fresh / "parquet")
    assert find_unmasked_personal_data(version) == []


def test_patched_snapshot_equals_a_fresh_build(tmp_path: Path):
    wh, root, v1 = _two_nights(tmp_path)
    before = sha256(v1 / "snapshot.duckdb")
    assert _manifest(v1)["snapshot_patched_from"] == ""  # no previous version: built fresh
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    manifest = _manifest(v2)
    tables = {t["name"]: t for t in manifest["tables"]}
    assert manifest["snapshot_patched_from"] == v1.name
    # deleted: 5 rows + 4 updated + 3 copies of T0001 + 1 of T0002; inserted: 4 + 6 new + 2 + 2
    # no state kept by night 1 (built fresh): masked are only the source rows that are no row of the
    # copied table as they are: the 3 holding a phone since night 1 (T0050, T0100, T0150), the 4
    # updated, the 6 new; the others (T0001's and T0002's copies too) are their own masked form
    rows = N - 3 + 2 - 5 + 6 - 1 + 1
    assert tables["marts.mart_detail"]["patched"] == {"deleted": 13, "inserted": 14, "masked": 3 + 4 + 6}
    assert tables["marts.mart_detail"]["rows"] == rows
    assert tables["marts.mart_static"]["reused"] and "patched" not in tables["marts.mart_static"]
    assert "patched" not in tables["marts.mart_typed"]  # another column type: built whole
    assert "patched" not in tables["marts.mart_new"] and "marts.mart_gone" not in tables
    assert manifest["snapshot_base_bytes"] == _manifest(v1)["snapshot_base_bytes"]
    # the previous version's file is untouched (a copy was patched, not a link) and still verifies
    assert sha256(v1 / "snapshot.duckdb") == before
    assert (v2 / "snapshot.duckdb").stat().st_ino != (v1 / "snapshot.duckdb").stat().st_ino
    assert publisher.verify_version(root, v1.name) == [] and publisher.verify_version(root, v2.name) == []
    _assert_equals_fresh(v2, wh, tmp_path)
    with duckdb.connect(str(v2 / "snapshot.duckdb"), read_only=True) as con:
        notes = con.execute(
            "SELECT note FROM marts.mart_detail WHERE task_id IN ('T0020', 'N1') ORDER BY 1"
        ).fetchall()
    assert notes == [("新号 +86 139****4321",), ("电话 138****2222",)]


def test_changed_masking_rebuilds_the_table_as_fresh(tmp_path: Path, monkeypatch):
    """Every row's masked form differs: more changed rows than PATCH_MAX_SHARE, built whole. (A
    change to the masking code changes the recipe, so no table counts as unchanged.)"""
    wh, root, _ = _two_nights(tmp_path)
    real = snapshot.masked_select

    def other_masking(columns, identity=frozenset()):
        select, by_name, by_pattern = real(columns, identity)
        return select.replace("mask_text(", "'*' || mask_text("), by_name, by_pattern

    monkeypatch.setattr(snapshot, "masked_select", other_masking)
    monkeypatch.setattr(snapshot, "recipe", lambda: "another masking")
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    tables = {t["name"]: t for t in _manifest(v2)["tables"]}
    assert "patched" not in tables["marts.mart_detail"] and "patched" not in tables["marts.mart_static"]
    # no text: the same rows
    assert tables["raw.load_files"]["patched"] == {"deleted": 0, "inserted": 0, "masked": 1}
    _assert_equals_fresh(v2, wh, tmp_path)


def test_corrupt_previous_snapshot_gives_a_fresh_build(tmp_path: Path):
    wh, root, v1 = _two_nights(tmp_path)
    old = v1 / "snapshot.duckdb"
    size = old.stat().st_size
    old.chmod(0o644)
    with open(old, "r+b") as f:  # the same size, sealed again: still "verified" by size and mode
        f.seek(4096)
        f.write(b"\0" * (size - 4096))
    old.chmod(0o444)
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    assert _manifest(v2)["snapshot_patched_from"] == ""
    _assert_equals_fresh(v2, wh, tmp_path)


def test_a_file_grown_past_its_bound_is_built_fresh(tmp_path: Path, monkeypatch):
    wh, root, _ = _two_nights(tmp_path)
    monkeypatch.setattr(snapshot, "MAX_GROWTH", 0.5)
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    manifest = _manifest(v2)
    assert manifest["snapshot_patched_from"] == ""
    assert manifest["snapshot_base_bytes"] == (v2 / "snapshot.duckdb").stat().st_size
    _assert_equals_fresh(v2, wh, tmp_path)


@pytest.mark.parametrize("share", [0.0])
def test_too_many_changed_rows_build_the_table_whole(tmp_path: Path, monkeypatch, share: float):
    wh, root, _ = _two_nights(tmp_path)
    monkeypatch.setattr(snapshot, "PATCH_MAX_SHARE", share)
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    assert "patched" not in {t["name"]: t for t in _manifest(v2)["tables"]}["marts.mart_detail"]
    _assert_equals_fresh(v2, wh, tmp_path)


def _night3(path: Path) -> None:
    """Changes for a night patched from the state: deletes, an update, a phone, two source rows that
    mask to one masked row (their phones differ in the hidden digits only), duplicates 2 -> 3 and
    2 -> 1, and a row whose masked twin appears among tonight's new rows."""
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM marts.mart_detail WHERE task_id IN ('T0030', 'T0031')")
    con.execute("UPDATE marts.mart_detail SET note = '改 13700001111' WHERE task_id = 'T0040'")
    con.execute(  # two new rows: 139****2678 and 139****3678
        "INSERT INTO marts.mart_detail SELECT 'M1', 'C1', '电话 1391111' || i || '678', 1, "
        "DATE '2026-11-21', 'z' FROM range(2, 4) AS r(i)"
    )
    con.execute(  # two phones that differ in the 4 hidden digits only: one masked row, twice
        "INSERT INTO marts.mart_detail VALUES ('M2', 'C2', '请回电 13955551234', 2, DATE '2026-11-21', 'z'), "
        "('M2', 'C2', '请回电 13966661234', 2, DATE '2026-11-21', 'z')"
    )
    con.execute(  # T0001: 2 -> 3 copies; T0002: 2 -> 1
        "INSERT INTO marts.mart_detail SELECT * FROM marts.mart_detail WHERE task_id = 'T0001' LIMIT 1; "
        "DELETE FROM marts.mart_detail WHERE task_id = 'T0002'; "
        "INSERT INTO marts.mart_detail SELECT 'T0002', 'C2', '备注 2', 2.50, DATE '2026-11-03', 'x2'"
    )
    con.close()


def _night4(path: Path) -> None:
    """One of night 3's twin rows goes (the masked row stays once), another row changes."""
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM marts.mart_detail WHERE note = '请回电 13966661234'")
    con.execute("UPDATE marts.mart_detail SET amount = amount + 7 WHERE task_id = 'T0050'")
    con.close()


def _state_dir(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "publish_state").iterdir()
    return folder


def test_later_nights_patch_from_the_private_state(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(snapshot, "MAX_GROWTH", 100)  # a small file grows by whole blocks: patched still
    wh, root, _ = _two_nights(tmp_path)
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    # the state is kept beside the warehouse, not in the publish root, for the current version only
    assert sorted(p.name for p in _state_dir(tmp_path).iterdir()) == [f"{v2.name}.duckdb"]
    assert not any("state" in p.name for p in root.rglob("*"))
    _night3(wh)
    v3 = publish(wh, root, "run3", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    assert _manifest(v3)["snapshot_patched_from"] == v2.name
    tables = {t["name"]: t for t in _manifest(v3)["tables"]}
    # deleted: T0030, T0031, T0040's old row, a copy of T0002; inserted: T0040's new row, M1 x 2,
    # M2 x 2 (one masked row twice), a copy of T0001; masked: only tonight's side of the changed
    # source rows (T0040, M1 x 2, M2 x 2, T0001's 3 copies, T0002's 1), not the table's ~200
    assert tables["marts.mart_detail"]["patched"] == {"deleted": 4, "inserted": 6, "masked": 9}
    before = {t["name"]: t for t in _manifest(v2)["tables"]}["marts.mart_detail"]["rows"]
    assert tables["marts.mart_detail"]["rows"] == before - 2 + 4 + 1 - 1
    assert "patched" not in tables["marts.mart_static"]  # unchanged: kept, its state too
    _assert_equals_fresh(v3, wh, tmp_path)
    with duckdb.connect(str(v3 / "snapshot.duckdb"), read_only=True) as con:
        twins = con.execute("SELECT note FROM marts.mart_detail WHERE task_id = 'M2'").fetchall()
    assert twins == [("请回电 139****1234",)] * 2
    assert sorted(p.name for p in _state_dir(tmp_path).iterdir()) == [f"{v3.name}.duckdb"]
    _night4(wh)
    v4 = publish(wh, root, "run4", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    patched = {t["name"]: t for t in _manifest(v4)["tables"]}["marts.mart_detail"]["patched"]
    assert patched == {"deleted": 2, "inserted": 1, "masked": 1}  # one twin less; T0050 updated
    shutil.rmtree(tmp_path / "fresh")
    _assert_equals_fresh(v4, wh, tmp_path)


@pytest.mark.parametrize("damage", ["corrupt", "T0030", "T0040", "other recipe"])
def test_a_damaged_state_is_not_trusted(tmp_path: Path, damage: str, monkeypatch):
    """A state file that does not open, one kept by another recipe, or one whose masked-row hash of
    a row changed tonight was doctored (T0030: deleted tonight, the patched table then misses its
    fingerprint; T0040: updated, its masked row is not the state's): patched as without a state.
    That masks the source rows that are no row of the copied table, or every source row when the
    failed state patch had already changed the table (T0030, T0040: tonight's rows inserted, the
    doctored hash found nowhere to delete, the fingerprint check failed)."""
    monkeypatch.setattr(snapshot, "MAX_GROWTH", 100)
    wh, root, _ = _two_nights(tmp_path)
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    state = _state_dir(tmp_path) / f"{v2.name}.duckdb"
    if damage == "corrupt":
        state.write_bytes(b"\0" * state.stat().st_size)
    elif damage == "other recipe":
        with duckdb.connect(str(state)) as con:
            con.execute("UPDATE published_tables SET recipe = 'older code'")
    else:
        with duckdb.connect(str(wh), read_only=True) as con:
            (sh,) = con.execute(
                "SELECT hash(task_id, client_id, note, amount, due_date) FROM marts.mart_detail "
                "WHERE task_id = ?",
                [damage],
            ).fetchone()
        with duckdb.connect(str(state)) as con:
            assert con.execute('UPDATE "marts.mart_detail" SET h = h // 2 WHERE sh = ?', [sh]).fetchone() == (
                1,
            )
    _night3(wh)
    v3 = publish(wh, root, "run3", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    assert _manifest(v3)["snapshot_patched_from"] == v2.name
    tables = {t["name"]: t for t in _manifest(v3)["tables"]}
    # no row of night 2's table: T0050, T0100, T0150, T0020, N1 (phones), T0040 (updated), M1 x 2, M2 x 2
    masked = tables["marts.mart_detail"]["rows"] if damage in ("T0030", "T0040") else 3 + 1 + 1 + 1 + 2 + 2
    assert tables["marts.mart_detail"]["patched"]["masked"] == masked
    _assert_equals_fresh(v3, wh, tmp_path)


def test_a_masking_slip_in_tonights_rows_is_refused_without_reading_the_table(tmp_path: Path, monkeypatch):
    """The rows a state patch inserts are scanned in the builder; the publication's scan then takes
    the patched table's fingerprint and findings from it (not a row of the table re-read) and its
    Parquet file, the same data, gets the same findings: a phone the masking let through tonight
    (a note column left unmasked) is refused in both."""
    monkeypatch.setattr(snapshot, "MAX_GROWTH", 100)
    wh, root, _ = _two_nights(tmp_path)
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    _night3(wh)
    real = snapshot.masked_select

    def slipping(columns, identity=frozenset()):  # the masking forgets free text: tonight's rows show it
        select, by_name, by_pattern = real(columns, identity)
        return select.replace('mask_text("note")', '"note"'), by_name, by_pattern

    monkeypatch.setattr(snapshot, "masked_select", slipping)
    fingerprinted = []
    real_fingerprint = scanner.fingerprint
    monkeypatch.setattr(
        scanner, "fingerprint", lambda con, rel: fingerprinted.append(rel) or real_fingerprint(con, rel)
    )
    with pytest.raises(publisher.PersonalDataLeak) as refused:
        publish(wh, root, "run3", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    # tonight's phones in the note: T0040's, M1 x 2, M2 x 2 (the old rows were masked on night 2)
    assert "snapshot.duckdb: marts.mart_detail.note: 5 unmasked mobile number(s)" in str(refused.value)
    assert "parquet/marts.mart_detail/all.parquet: note: 5 unmasked mobile number(s)" in str(refused.value)
    assert not any(rel.startswith('"marts"') for rel in fingerprinted)  # no snapshot table re-hashed
    assert publisher.current_version(root) == v2.name


def test_no_place_for_the_state_patches_without_it(tmp_path: Path):
    """The state folder cannot be made (a file is in its way): the night is patched as without a
    state (every source row that is no row of the copied table masked) and published."""
    wh, root, v1 = _two_nights(tmp_path)
    shutil.rmtree(tmp_path / "publish_state")  # night 1's (empty: built fresh)
    (tmp_path / "publish_state").write_text("in the way", encoding="utf-8")
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    assert _manifest(v2)["snapshot_patched_from"] == v1.name
    tables = {t["name"]: t for t in _manifest(v2)["tables"]}
    assert tables["marts.mart_detail"]["patched"]["masked"] == 3 + 4 + 6  # as in the first test
    _assert_equals_fresh(v2, wh, tmp_path)


def _hashed_tables(monkeypatch) -> list[str]:
    """Records the snapshot tables the builder hashes whole (`snapshot._content`)."""
    hashed: list[str] = []
    real = snapshot._content

    def counting(con, dest, columns):
        hashed.append(dest)
        return real(con, dest, columns)

    monkeypatch.setattr(snapshot, "_content", counting)
    return hashed


def test_an_unchanged_table_of_the_copy_is_taken_as_recorded(tmp_path: Path, monkeypatch):
    """A night whose sources did not change: every table of the copied snapshot is kept with the
    rows and hash sums its version recorded, none hashed again; a record that does not add up (a
    part's sum doctored in the previous manifest) is not trusted: that table is hashed, still kept."""
    wh = _night1(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = publish(wh, root, "run1", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    hashed = _hashed_tables(monkeypatch)
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    tables = {t["name"]: t for t in _manifest(v2)["tables"]}
    assert all(t["reused"] for t in tables.values()) and hashed == []
    assert {n: t["fingerprint"] for n, t in tables.items()} == {
        t["name"]: t["fingerprint"] for t in _manifest(v1)["tables"]
    }
    manifest_path = v2 / "manifest.json"
    manifest = _manifest(v2)
    for t in manifest["tables"]:
        if t["name"] == "marts.mart_static":
            t["parts"][0]["sum"] = str(int(t["parts"][0]["sum"]) + 1)
    manifest_path.chmod(0o644)
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    manifest_path.chmod(0o444)
    v3 = publish(wh, root, "run3", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    assert hashed == ['"marts"."mart_static"']
    assert all(t["reused"] for t in _manifest(v3)["tables"])
    _assert_equals_fresh(v3, wh, tmp_path)


def test_a_row_equal_to_a_published_row_is_not_masked_again(tmp_path: Path):
    """The patch without state masks only the source rows that are no row of the copied table: a
    row unchanged since night 1 is its own masked form, but a row holding a phone never is (its
    masked form is what was published), nor a row whose only change is a phone put in, nor a new
    row that copies a published masked text by hand."""
    wh = _night1(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    publish(wh, root, "run1", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    con = duckdb.connect(str(wh))
    con.execute(f"UPDATE marts.mart_detail SET note = note || ' {PHONE}' WHERE task_id = 'T0007'")
    con.execute(  # a new row holding T0050's published (masked) note as typed text: no phone in it
        "INSERT INTO marts.mart_detail SELECT 'H1', 'C1', '请回电 139****4321', 1, DATE '2026-11-21', 'h'"
    )
    con.close()
    v2 = publish(wh, root, "run2", tables=("raw.load_files",), descriptions=DESCRIPTIONS_2)
    patched = {t["name"]: t for t in _manifest(v2)["tables"]}["marts.mart_detail"]["patched"]
    # masked: T0050, T0100, T0150 (phones since night 1), T0007 (a phone put in), H1 (new)
    assert patched == {"deleted": 1, "inserted": 2, "masked": 5}
    _assert_equals_fresh(v2, wh, tmp_path)
    with duckdb.connect(str(v2 / "snapshot.duckdb"), read_only=True) as con:
        note = con.execute("SELECT note FROM marts.mart_detail WHERE task_id = 'T0007'").fetchone()
    assert note == (f"备注 7 {PHONE[:3]}****{PHONE[-4:]}",)


def _with_paid(path: Path) -> None:
    """A second table patched every night beside mart_detail: its rows with a DATE month column
    (`paid_date`, over eight months), published in month parts when PARTS_MIN_ROWS is lowered."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE OR REPLACE TABLE marts.mart_paid AS SELECT task_id, client_id, note, amount, "
            "DATE '2026-06-01' + CAST(amount AS INTEGER) AS paid_date FROM marts.mart_detail ORDER BY ALL"
        )


def _published(version: Path) -> tuple:
    """All a version is made of, in order: the manifest's tables (rows, fingerprints, parts with
    rows and sums, patched counts), every Parquet file's bytes, and per snapshot table its comment,
    columns and rows in the table's own order (rowid)."""
    manifest = _manifest(version)
    parquet = {p.relative_to(version).as_posix(): sha256(p) for p in sorted(version.rglob("*.parquet"))}
    contents = _contents(version / "snapshot.duckdb", "rowid")
    return manifest["tables"], manifest["snapshot_patched_from"], parquet, contents


def test_two_workers_publish_what_one_does(tmp_path: Path, monkeypatch):
    """The tables are published two at a time (`snapshot.WORKERS`, each thread on its own cursor of
    the snapshot's database): the same nights published one at a time and two at a time give the
    same versions — manifest tables, every Parquet file byte for byte, every snapshot table's rows in
    the same physical order with its comments — and the same private state. Night 1 is built
    fresh; nights 2 and 3 patch mart_detail (without state, then from it) while mart_paid is patched
    by months and the other tables are kept or built whole, so patches with their temp tables, state
    writes and COPYs run side by side (checked: two tables at once with two workers). The state
    patch's row order once varied with DuckDB's threads (which copies of a duplicate it deleted,
    the order of its inserted rows): this failed about one run in five then."""
    monkeypatch.setattr(snapshot, "MAX_GROWTH", 100)
    monkeypatch.setattr(snapshot, "PARTS_MIN_ROWS", 100)
    lock, running, most = threading.Lock(), [0], [0]
    real = snapshot._publish_table

    def overlapping(*args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            deadline = time.monotonic() + 5
            while snapshot.WORKERS > 1 and most[0] < 2 and time.monotonic() < deadline:
                time.sleep(0.01)  # the first table waits for the other worker to take one
            return real(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(snapshot, "_publish_table", overlapping)
    out = {}
    for workers in (1, 2):
        monkeypatch.setattr(snapshot, "WORKERS", workers)
        most[0] = 0
        base = tmp_path / f"workers{workers}"
        base.mkdir()
        wh = _night1(base / "warehouse.duckdb")
        versions = []
        for n, night in enumerate((None, _night2, _night3), start=1):
            if night is not None:
                night(wh)
            _with_paid(wh)
            descriptions = DESCRIPTIONS_1 if n == 1 else DESCRIPTIONS_2
            v = publish(
                wh, base / "published", f"run{n}", tables=("raw.load_files",), descriptions=descriptions
            )
            versions.append(_published(v))
        assert most[0] == workers
        patched = {t["name"]: t.get("patched") for t in versions[2][0]}
        assert patched["marts.mart_detail"]["masked"] == 9 and patched["marts.mart_paid"]["inserted"] > 0
        assert {t["name"]: t["parts_by"] for t in versions[2][0]}["marts.mart_paid"] == "paid_date"
        (state,) = _state_dir(base).iterdir()
        with duckdb.connect(str(state), read_only=True) as con:
            kept = {
                table: con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()
                for (table,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
            }
        out[workers] = versions, kept
    for night, (one, two) in enumerate(zip(out[1][0], out[2][0], strict=True), start=1):
        for what, a, b in zip(("tables", "patched from", "Parquet", "snapshot"), one, two, strict=True):
            assert a == b, f"night {night}: {what}"
    assert out[1][1] == out[2][1], "state"
