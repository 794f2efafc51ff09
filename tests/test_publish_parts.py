"""Parquet in parts: a large table is one file per month of its month column, and a night rewrites
only the parts whose rows changed; the others are hard links to the previous version's files.

Real publications (publish_run) of a hand-made warehouse with real DuckDB and Parquet files. The
size threshold is lowered for the test (snapshot.PARTS_MIN_ROWS) so a table of a few hundred rows is
"large"; every expected number (rows per month, which files change) is counted from the rows below.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import PersonalDataLeak, find_unmasked_personal_data, publisher, scanner, snapshot
from tests.test_publish import publish

PHONE = "13987654321"
MONTHS = ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
PER_MONTH = 60
NO_MONTH = 5  # rows without a period: part `other`
TABLE = "marts.mart_tasks"


def _warehouse(path: Path) -> Path:
    """marts.mart_tasks: 60 tasks in each of six months and 5 without a period (365 rows); a phone in
    the note of every tenth task (masked when published); a small mart and the load bookkeeping."""
    con = duckdb.connect(str(path))
    for schema in ("marts", "raw"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    values = ", ".join(f"('{m}', {k})" for k, m in enumerate(MONTHS))
    con.execute(
        f"""CREATE TABLE {TABLE} AS
        SELECT 'T' || lpad((k * 100 + i)::VARCHAR, 4, '0') AS task_id, 'C' || (i % 9) AS client_id,
               period, CASE WHEN i % 10 = 0 THEN '请回电 {PHONE}' ELSE '备注 ' || i END AS note,
               (i * 1.5)::DECIMAL(18, 2) AS amount, false AS is_done
        FROM (VALUES {values}) AS m(period, k), range({PER_MONTH}) AS r(i)"""
    )
    con.execute(
        f"INSERT INTO {TABLE} SELECT 'X' || i, 'C1', NULL, '无', 1, false FROM range({NO_MONTH}) AS r(i)"
    )
    con.execute("CREATE TABLE marts.mart_small AS SELECT i AS k, '月' || i AS label FROM range(4) AS r(i)")
    con.execute("CREATE TABLE raw.load_files AS SELECT 'L1' AS load_id, 4 AS rows_read")
    con.close()
    return path


@pytest.fixture(autouse=True)
def _small_threshold(monkeypatch):
    monkeypatch.setattr(snapshot, "PARTS_MIN_ROWS", 100)


def _night(wh: Path, *sql: str) -> None:
    with duckdb.connect(str(wh)) as con:
        for statement in sql:
            con.execute(statement)


def _publish(wh: Path, root: Path, run_id: str) -> Path:
    return publish(wh, root, run_id, tables=("raw.load_files",))


def _table(version: Path, name: str = TABLE) -> dict:
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    return {t["name"]: t for t in manifest["tables"]}[name]


def _files(version: Path, name: str = TABLE) -> dict[str, int]:
    """The table's part files by name -> inode."""
    return {p.name: p.stat().st_ino for p in sorted((version / "parquet" / name).iterdir())}


def _assert_parts_hold_the_table(version: Path, name: str = TABLE) -> None:
    """The documented glob reads back exactly the snapshot table; each month's part holds exactly that
    month's rows (NULL: `other`); the manifest's per-part rows are the files' rows."""
    folder = version / "parquet" / name
    with duckdb.connect(str(version / "snapshot.duckdb"), read_only=True) as con:
        table = con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
        assert (
            con.execute(f"SELECT * FROM read_parquet('{folder}/*.parquet') ORDER BY ALL").fetchall() == table
        )
        for part in _table(version, name)["parts"]:
            path = version / part["file"]
            got = con.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").fetchall()
            assert len(got) == part["rows"]
            if part["part"] != "all":
                month = "period IS NULL" if part["part"] == "other" else f"period = '{part['part']}'"
                assert got == con.execute(f"SELECT * FROM {name} WHERE {month} ORDER BY ALL").fetchall()
    # pandas reads the same folder in one call
    pd = pytest.importorskip("pandas")
    assert len(pd.read_parquet(folder)) == len(table)


def test_a_large_table_is_one_file_per_month(tmp_path: Path):
    wh = _warehouse(tmp_path / "warehouse.duckdb")
    v1 = _publish(wh, tmp_path / "published", "run1")
    assert list(_files(v1)) == [f"{m}.parquet" for m in MONTHS] + ["other.parquet"]
    table = _table(v1)
    assert table["parquet"] == f"parquet/{TABLE}/*.parquet" and table["parts_by"] == "period"
    assert [(p["part"], p["rows"], p["reused"]) for p in table["parts"]] == [
        *((m, PER_MONTH, False) for m in MONTHS),
        ("other", NO_MONTH, False),
    ]
    assert table["rows"] == 6 * PER_MONTH + NO_MONTH
    _assert_parts_hold_the_table(v1)
    with duckdb.connect() as con:  # the phones are masked in the parts too
        notes = con.execute(
            f"SELECT DISTINCT note FROM '{v1}/parquet/{TABLE}/*.parquet' WHERE note LIKE '请回电%'"
        )
        assert notes.fetchall() == [("请回电 139****4321",)]
    assert list(_files(v1, "marts.mart_small")) == ["all.parquet"]  # small: one file
    _assert_parts_hold_the_table(v1, "marts.mart_small")
    manifest = json.loads((v1 / "manifest.json").read_text(encoding="utf-8"))
    assert {f"parquet/{TABLE}/{m}.parquet" for m in MONTHS} <= set(manifest["files"])


def test_a_night_rewrites_only_the_parts_of_its_changed_rows(tmp_path: Path):
    """Night 2 changes two tasks of 2026-11 and adds one to 2026-10: those two files are new, the five
    others are the same inodes as night 1's. Night 3 changes one task of 2026-07: only that month is
    patched (the state's source sums say the others did not change; its changed row and its six
    phone rows, whose source is not their published form, masked) and only that part is new."""
    wh = _warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = _publish(wh, root, "run1")
    _night(
        wh,
        f"UPDATE {TABLE} SET is_done = true WHERE task_id IN ('T0501', 'T0502')",
        f"INSERT INTO {TABLE} VALUES ('T0499', 'C1', '2026-10', '新任务 {PHONE}', 9.5, false)",
    )
    v2 = _publish(wh, root, "run2")
    before, after = _files(v1), _files(v2)
    assert list(after) == list(before)
    assert {n for n in after if after[n] != before[n]} == {"2026-10.parquet", "2026-11.parquet"}
    assert all((v2 / "parquet" / TABLE / n).stat().st_nlink == 2 for n in after if after[n] == before[n])
    table = _table(v2)
    assert table["patched"]["inserted"] == 3 and table["patched"]["deleted"] == 2
    assert [p["part"] for p in table["parts"] if not p["reused"]] == ["2026-10", "2026-11"]
    assert {p["part"]: p["rows"] for p in table["parts"]}["2026-10"] == PER_MONTH + 1
    _assert_parts_hold_the_table(v2)
    assert publisher.verify_version(root, v2.name) == []  # every part in the manifest with its hash
    assert find_unmasked_personal_data(v2) == []

    _night(wh, f"UPDATE {TABLE} SET amount = amount + 1 WHERE task_id = 'T0107'")
    v3 = _publish(wh, root, "run3")
    assert _table(v3)["patched"]["masked"] == 1 + PER_MONTH // 10  # 2026-07's changed and phone rows
    third = _files(v3)
    assert {n for n in third if third[n] != after[n]} == {"2026-07.parquet"}
    _assert_parts_hold_the_table(v3)


def test_a_whole_month_changed_a_new_month_and_a_month_gone(tmp_path: Path):
    """Every row of 2026-08 changes (its part rewritten), 2026-12 appears (a new file), 2026-06 is
    deleted (its file vanishes): too many changes for the patch, the table is built whole, and the
    unchanged months are still hard-linked."""
    wh = _warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = _publish(wh, root, "run1")
    _night(
        wh,
        f"UPDATE {TABLE} SET amount = amount + 1 WHERE period = '2026-08'",
        f"DELETE FROM {TABLE} WHERE period = '2026-06'",
        f"INSERT INTO {TABLE} SELECT 'N' || i, 'C2', '2026-12', '新', 2, false FROM range(7) AS r(i)",
    )
    v2 = _publish(wh, root, "run2")
    before, after = _files(v1), _files(v2)
    assert "patched" not in _table(v2)  # 60 + 120 + 7 changed rows of 365: built whole
    assert list(after) == [f"{m}.parquet" for m in MONTHS[1:]] + ["2026-12.parquet", "other.parquet"]
    assert {n for n in after if after.get(n) != before.get(n)} == {"2026-08.parquet", "2026-12.parquet"}
    assert {p["part"]: p["rows"] for p in _table(v2)["parts"]}["2026-12"] == 7
    _assert_parts_hold_the_table(v2)
    assert publisher.verify_version(root, v2.name) == []


def test_a_table_crossing_the_threshold_changes_layout_in_its_folder(tmp_path: Path, monkeypatch):
    """Under the threshold a table is `all.parquet`; grown past it, one file per month in the same
    folder (the glob still reads it); shrunk again, `all.parquet` again."""
    monkeypatch.setattr(snapshot, "PARTS_MIN_ROWS", 6 * PER_MONTH + NO_MONTH + 1)
    wh = _warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = _publish(wh, root, "run1")
    assert list(_files(v1)) == ["all.parquet"]
    assert _table(v1)["parts_by"] == "period"  # it has the column, but is too small to be split
    _assert_parts_hold_the_table(v1)
    _night(wh, f"INSERT INTO {TABLE} VALUES ('T0999', 'C1', '2026-11', '新', 1, false)")
    v2 = _publish(wh, root, "run2")
    assert list(_files(v2)) == [f"{m}.parquet" for m in MONTHS] + ["other.parquet"]
    _assert_parts_hold_the_table(v2)
    _night(wh, f"DELETE FROM {TABLE} WHERE task_id = 'T0999'")
    v3 = _publish(wh, root, "run3")
    assert list(_files(v3)) == ["all.parquet"]
    _assert_parts_hold_the_table(v3)


def _spy_scanner(monkeypatch) -> dict[str, list[str]]:
    """What the scanner reads row by row: Parquet files whose rows it hashes (`sums`), relations it
    fingerprints and relations it regex-scans (`regex`)."""
    seen: dict[str, list[str]] = {"sums": [], "fingerprint": [], "regex": []}
    real_relation, real_fp, real_counts = (
        scanner._parquet_relation,
        scanner.fingerprint,
        scanner._column_counts,
    )

    def relation(paths, **options):
        text = real_relation(paths, **options)
        if options:  # the content read of a dataset's files (a footer read has no options)
            seen["sums"].append(text)
        return text

    monkeypatch.setattr(scanner, "_parquet_relation", relation)
    monkeypatch.setattr(
        scanner, "fingerprint", lambda con, rel: seen["fingerprint"].append(rel) or real_fp(con, rel)
    )
    monkeypatch.setattr(
        scanner,
        "_column_counts",
        lambda con, rel, cols, *rows: seen["regex"].append(rel) or real_counts(con, rel, cols, *rows),
    )
    return seen


def test_the_scan_reads_new_parts_only_and_finds_a_number_planted_in_one(tmp_path: Path, monkeypatch):
    """Night 2 changes 2026-11 only. The scan reads that part (its sums must be what the builder
    wrote down) and counts the six linked parts as recorded, never reading their rows; a phone put
    back into the new part after masking makes the part differ from its table, so it is scanned
    on its own and the version refused."""
    wh = _warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = _publish(wh, root, "run1")
    _night(wh, f"UPDATE {TABLE} SET is_done = true WHERE task_id = 'T0503'")
    seen = _spy_scanner(monkeypatch)
    v2 = _publish(wh, root, "run2")
    linked = [n for n, ino in _files(v2).items() if ino == _files(v1)[n]]
    assert len(linked) == 6
    reads = " ".join(seen["sums"] + seen["fingerprint"] + seen["regex"])
    assert f"{TABLE}/2026-11.parquet" in " ".join(seen["sums"])
    assert not any(f"{TABLE}/{n}" in reads for n in linked)
    assert not any(TABLE in rel for rel in seen["regex"])  # the table and its new part: no regex pass

    _night(wh, f"UPDATE {TABLE} SET is_done = true WHERE task_id = 'T0504'")
    real = snapshot._copy_parts

    def planting(con, dest, folder, keys, *part_column):
        real(con, dest, folder, keys, *part_column)
        if dest == '"marts"."mart_tasks"':  # the masked row put back with its phone in the file only
            target = folder / "2026-11.parquet"
            target.unlink()
            con.execute(
                "COPY (SELECT * REPLACE "
                f"(CASE WHEN task_id = 'T0510' THEN '请回电 {PHONE}' ELSE note END AS note) "
                f"FROM {dest} WHERE period = '2026-11') TO '{target}' (FORMAT parquet)"
            )

    monkeypatch.setattr(snapshot, "_copy_parts", planting)
    for found in seen.values():
        found.clear()
    with pytest.raises(PersonalDataLeak) as refused:
        _publish(wh, root, "run3")
    assert f"parquet/{TABLE}/2026-11.parquet: note: 1 unmasked mobile number(s)" in str(refused.value)
    assert "snapshot.duckdb" not in str(refused.value)  # the table itself is clean
    reads = " ".join(seen["sums"] + seen["fingerprint"] + seen["regex"])
    assert not any(f"{TABLE}/{n}" in reads for n in linked)  # linked parts still not read
    assert [r for r in seen["regex"] if TABLE in r] == [
        r for r in seen["regex"] if f"{TABLE}/2026-11.parquet" in r
    ]  # the regex pass: the planted part only
    assert publisher.current_version(root) == v2.name


def test_the_scanner_takes_a_folder_of_parts_for_its_table_only_as_written_down(tmp_path: Path, monkeypatch):
    """A folder of two parts whose rows add up to a clean snapshot table is clean without a regex
    pass; a linked (skipped) part counts by its recorded sums, unread. Sums that are not the file's
    (a new part's, or a linked part's) break the match: the new part is then scanned on its own."""
    folder = tmp_path / "v"
    parts = folder / "parquet" / "main.t"
    parts.mkdir(parents=True)
    a, b = parts / "2026-10.parquet", parts / "2026-11.parquet"
    with duckdb.connect(str(folder / "snapshot.duckdb")) as con:
        con.execute(
            "CREATE TABLE t AS SELECT '2026-1' || (i % 2) AS period, '备注 ' || i AS note FROM range(50) r(i)"
        )
        sums = {}
        for path, month in ((a, "2026-10"), (b, "2026-11")):
            con.execute(f"COPY (SELECT * FROM t WHERE period = '{month}') TO '{path}' (FORMAT parquet)")
            sums[path] = con.execute(
                f"SELECT count(*), sum(hash(period, note)::HUGEINT) FROM t WHERE period = '{month}'"
            ).fetchone()
    seen = _spy_scanner(monkeypatch)

    def parquet_regex() -> list[str]:
        found = [r for r in seen["regex"] if "parquet" in r]
        for s in seen.values():
            s.clear()
        return found

    assert find_unmasked_personal_data(folder, parquet_sums=sums) == []
    assert parquet_regex() == []
    assert find_unmasked_personal_data(folder, skip=lambda p: p == b, parquet_sums=sums) == []
    assert parquet_regex() == [] and not any(str(b) in r for r in seen["sums"])
    wrong_b = {a: sums[a], b: (sums[b][0], sums[b][1] + 1)}
    assert find_unmasked_personal_data(folder, skip=lambda p: p == b, parquet_sums=wrong_b) == []
    assert [r for r in parquet_regex() if str(a) in r]  # no match: the new part scanned on its own
    wrong_a = {a: (sums[a][0] + 1, sums[a][1]), b: sums[b]}
    assert find_unmasked_personal_data(folder, parquet_sums=wrong_a) == []
    assert len(parquet_regex()) == 2  # both new parts on their own


def test_the_first_night_after_the_one_file_layout_writes_every_part(tmp_path: Path, monkeypatch):
    """A current version whose manifest has no `parts` (published before this layout) offers no part
    to link: the next night writes every part and still publishes the same table."""
    wh = _warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    real = publisher._manifest

    def without_parts(*args, **kwargs):
        manifest = real(*args, **kwargs)
        for t in manifest["tables"]:
            t.pop("parts")
        return manifest

    monkeypatch.setattr(publisher, "_manifest", without_parts)
    v1 = _publish(wh, root, "run1")
    monkeypatch.setattr(publisher, "_manifest", real)
    v2 = _publish(wh, root, "run2")
    before, after = _files(v1), _files(v2)
    assert list(after) == list(before) and not any(after[n] == before[n] for n in after)
    assert not any(p["reused"] for p in _table(v2)["parts"])
    _assert_parts_hold_the_table(v2)


def test_a_part_filter_selects_exactly_its_months_rows():
    """`_part_filter` puts a range on a text month column before the key's equality (so DuckDB
    filters the stored column in the scan); it must select exactly the rows whose first 7 characters
    are the part's month, whatever follows them or sorts next to them (an oracle in Python)."""
    periods = [
        "2026-11", "2026-11-30", "2026-11~", "2026-1", "2026-10", "2026-10\uffff", "2026-12", "2026-1:",
        "2026-09", "2026-09-01", "2026-0:", "2026-099", "2025-11", "", None, "other", "2026-11\u4e00",
    ]  # fmt: skip
    con = duckdb.connect()
    con.execute("CREATE TABLE t (period VARCHAR, day DATE, i INTEGER)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?)",
        [(p, f"2026-{1 + i % 12:02d}-0{1 + i % 9}", i) for i, p in enumerate(periods)],
    )
    for key in ("2026-11", "2026-10", "2026-09", "2026-1", "other"):
        rows = f"SELECT i FROM t WHERE {snapshot._part_filter('period', 'VARCHAR', key)}"
        got = con.execute(rows).fetchall()
        want = [i for i, p in enumerate(periods) if (p[:7] if p is not None else "other") == key]
        assert sorted(i for (i,) in got) == want, key
    days = con.execute("SELECT i, CAST(day AS VARCHAR) FROM t").fetchall()
    for key in ("2026-03", "2026-11"):
        got = con.execute(f"SELECT i FROM t WHERE {snapshot._part_filter('day', 'DATE', key)}").fetchall()
        assert sorted(i for (i,) in got) == sorted(i for i, d in days if d[:7] == key), key
    # dates and timestamps put a range first: month ends, December, NULL, a date before year 1
    con.execute("CREATE TABLE d (day DATE, ts TIMESTAMP, i INTEGER)")
    stamps = [
        "2026-11-01 00:00:00", "2026-11-30 23:59:59.999999", "2026-12-01 00:00:00", "2026-10-31 23:59:59",
        "2026-12-31 12:00:00", "2027-01-01 00:00:00", "2025-11-15 08:00:00", None,
    ]  # fmt: skip
    con.executemany(
        "INSERT INTO d VALUES (CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?)",
        [(t, t, i) for i, t in enumerate(stamps)],
    )
    con.execute("INSERT INTO d VALUES (DATE '2026-11-03 (BC)', TIMESTAMP '2026-11-03 (BC) 10:00:00', 99)")
    for column, dtype in (("day", "DATE"), ("ts", "TIMESTAMP")):
        cast = con.execute(f"SELECT i, CAST({column} AS VARCHAR) FROM d").fetchall()
        for key in ("2026-11", "2026-12", "2027-01", "2025-11", "other"):
            got = con.execute(f"SELECT i FROM d WHERE {snapshot._part_filter(column, dtype, key)}").fetchall()
            want = [i for i, v in cast if (v[:7] if v is not None else "other") == key]
            assert sorted(i for (i,) in got) == sorted(want) and (want or key == "2027-01"), (column, key)


class _Statements:
    """A connection that keeps the text of each statement run through it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seen: list[str]):
        self._con, self._seen = con, seen

    def execute(self, sql: str, *args):
        self._seen.append(sql)
        return self._con.execute(sql, *args)


def _spy_patch(monkeypatch) -> list[tuple[int, int, int]]:
    """Per table patched by rows: how many rows of the copy and of the source the patch compared, and
    how many of its statements read the source (its passes over the source rows: the rows hashed
    once with their rowid, then the ones not in the copy fetched by rowid)."""
    compared: list[tuple[int, int, int]] = []
    real = snapshot._patch_masking_all

    def spy(con, *args, **kwargs):
        seen: list[str] = []
        result = real(_Statements(con, seen), *args, **kwargs)
        copy_rows, source_rows = con.execute(
            "SELECT (SELECT coalesce(sum(n), 0) FROM snapshot_patch_published), "
            "(SELECT coalesce(sum(n), 0) FROM snapshot_patch_source)"
        ).fetchone()
        reads = [sql for sql in seen if snapshot.SOURCE_ALIAS in sql]
        assert "snapshot_patch_source_rows AS" in reads[0] and "rowid IN" in reads[1], reads
        compared.append((copy_rows, source_rows, len(reads)))
        return result

    monkeypatch.setattr(snapshot, "_patch_masking_all", spy)
    return compared


def _assert_equals_a_fresh_build(version: Path, wh: Path, folder: Path) -> None:
    from tests.test_publish_patch import _contents, _parquet

    snapshot.build_snapshot(wh, folder / "snapshot.duckdb", folder / "parquet", tables=("raw.load_files",))
    assert _contents(version / "snapshot.duckdb") == _contents(folder / "snapshot.duckdb")
    assert _parquet(version / "parquet") == _parquet(folder / "parquet")


def test_only_the_months_whose_source_changed_are_read_and_patched(tmp_path: Path, monkeypatch):
    """Phones only in 2026-06's notes, and a bookkeeping column (`input_fingerprint`, not published).
    Night 2 updates a task of 2026-09 (a phone put in its note) and adds one to 2026-11: the patch
    compares the rows of those two months and of 2026-06 (its phones make its source differ from its
    published form, and night 1, a fresh build, kept no source sums), 3 x 60 of the copy and
    3 x 60 + 1 of the source, never the four other months'; it masks the two new rows and 2026-06's
    six phones and rewrites the 2026-09 and 2026-11 parts only. Night 3 changes only the bookkeeping
    column: the source fingerprint (published columns) stays, the table is kept as it is, nothing
    read or rewritten. Night 3b changes 2026-09 again: 2026-06 is the source night 3 kept in the
    private state, so only 2026-09 is compared. Night 4, its state deleted, changes 2026-09 again:
    2026-06 and 2026-09 (phones) are patched, only 2026-09's part rewritten. Each night equals a
    fresh build, table and Parquet files. Each patch reads the source twice (the rows not in the copy,
    masked and kept; every row counted by hash): the rows it inserts come from the kept ones."""
    wh = _warehouse(tmp_path / "warehouse.duckdb")
    _night(
        wh,
        f"UPDATE {TABLE} SET note = '备注' WHERE period <> '2026-06' AND note LIKE '请回电%'",
        f"ALTER TABLE {TABLE} ADD COLUMN input_fingerprint UBIGINT DEFAULT 1",
    )
    root = tmp_path / "published"
    _publish(wh, root, "run1")
    compared = _spy_patch(monkeypatch)
    _night(
        wh,
        f"UPDATE {TABLE} SET note = '改 {PHONE}', amount = 7 WHERE task_id = 'T0305'",
        f"INSERT INTO {TABLE} VALUES ('T0599', 'C1', '2026-11', '新', 9.5, false, 1)",
    )
    v2 = _publish(wh, root, "run2")
    table = _table(v2)
    assert table["patched"] == {"deleted": 1, "inserted": 2, "masked": 2 + PER_MONTH // 10}
    assert compared == [(3 * PER_MONTH, 3 * PER_MONTH + 1, 2)]
    assert [p["part"] for p in table["parts"] if not p["reused"]] == ["2026-09", "2026-11"]
    with duckdb.connect(str(v2 / "snapshot.duckdb"), read_only=True) as con:
        note = con.execute(f"SELECT note FROM {TABLE} WHERE task_id = 'T0305'").fetchone()
    assert note == ("改 139****4321",)
    _assert_equals_a_fresh_build(v2, wh, tmp_path / "fresh2")
    assert find_unmasked_personal_data(v2) == []

    compared.clear()
    _night(wh, f"UPDATE {TABLE} SET input_fingerprint = 2")
    v3 = _publish(wh, root, "run3")
    table = _table(v3)
    # the bookkeeping column is not published: the source fingerprint (published columns) is the same,
    # so the table is the copied one, neither read nor patched
    assert table["source_fingerprint"] == _table(v2)["source_fingerprint"]
    assert table["reused"] and "patched" not in table and compared == []
    assert _files(v3) == _files(v2)  # every part linked
    _assert_equals_a_fresh_build(v3, wh, tmp_path / "fresh3")

    # with the state: 2026-06 (phones) is the source night 2 kept, so only 2026-09 is compared
    _night(wh, f"UPDATE {TABLE} SET amount = 6 WHERE task_id = 'T0305'")
    v3b = _publish(wh, root, "run3b")
    assert _table(v3b)["patched"] == {"deleted": 1, "inserted": 1, "masked": 1}
    assert compared == [(PER_MONTH, PER_MONTH, 2)]
    assert [p["part"] for p in _table(v3b)["parts"] if not p["reused"]] == ["2026-09"]
    _assert_equals_a_fresh_build(v3b, wh, tmp_path / "fresh3b")
    compared.clear()

    for kept in (tmp_path / "publish_state").rglob("*.duckdb"):
        kept.unlink()
    _night(wh, f"UPDATE {TABLE} SET amount = 8 WHERE task_id = 'T0305'")
    v4 = _publish(wh, root, "run4")
    assert _table(v4)["patched"] == {"deleted": 1, "inserted": 1, "masked": 1 + PER_MONTH // 10}
    assert compared == [(2 * PER_MONTH, 2 * PER_MONTH, 2)]
    assert [p["part"] for p in _table(v4)["parts"] if not p["reused"]] == ["2026-09"]
    _assert_equals_a_fresh_build(v4, wh, tmp_path / "fresh4")


def _fingerprints(side: bool) -> list[str]:
    """Each row's input fingerprint, a hash of what it holds (as dbt's incremental models keep them):
    in the table's own internal column, or (`side`) in intermediate.mart_tasks__fingerprints."""
    row = "hash(task_id, client_id, period, note, amount, is_done)"
    if side:
        return [
            "CREATE SCHEMA IF NOT EXISTS intermediate",
            "CREATE OR REPLACE TABLE intermediate.mart_tasks__fingerprints AS "
            f"SELECT task_id, {row} AS input_fingerprint FROM {TABLE}",
        ]
    return [f"UPDATE {TABLE} SET input_fingerprint = {row}"]


@pytest.mark.parametrize("side", [False, True], ids=["own-column", "fingerprints-table"])
def test_months_whose_fingerprints_are_unchanged_are_not_read(tmp_path: Path, monkeypatch, side: bool):
    """A table whose rows' input fingerprints are declared (snapshot.Identity, as fct_tasks and the
    progress marts declare in their dbt meta): its months are told changed by the sum of their rows'
    fingerprints against last night's, not by hashing every column of every row. Phones in 2026-06's
    notes make that month differ from its published form, so without the fingerprints it is read every
    night (the test above). Night 1, a fresh build, keeps the fingerprint sums. Night 2 changes a task
    of 2026-09 (and its fingerprint) and adds one to 2026-11: the patch compares those two months only,
    2 x 60 rows of the copy and 2 x 60 + 1 of the source, and 2026-06 is not read. Night 3 deletes a
    task of 2026-07: only 2026-07. Night 4 leaves a row without a fingerprint and changes a 2026-08 row:
    nothing then says what that row was computed from, so the table's months are told by their rows
    again: 2026-06 and 2026-09 (their phones make them differ from their published form) and 2026-08,
    whose part alone is rewritten. Each night equals a
    fresh build, table and Parquet files."""
    wh = _warehouse(tmp_path / "warehouse.duckdb")
    column = [] if side else [f"ALTER TABLE {TABLE} ADD COLUMN input_fingerprint UBIGINT"]
    phones_in_june_only = (
        f"UPDATE {TABLE} SET note = '备注' WHERE period <> '2026-06' AND note LIKE '请回电%'"
    )
    _night(wh, phones_in_june_only, *column, *_fingerprints(side))
    identity = snapshot.Identity(
        "input_fingerprint", *(("intermediate.mart_tasks__fingerprints", "task_id") if side else ())
    )
    root = tmp_path / "published"

    def publish_night(run_id: str) -> Path:
        return publish(wh, root, run_id, tables=("raw.load_files",), identities={TABLE: identity})

    v1 = publish_night("run1")
    assert "patched" not in _table(v1)
    compared = _spy_patch(monkeypatch)
    new_row = "('T0599', 'C1', '2026-11', '新', 9.5, false" + ("" if side else ", NULL") + ")"
    _night(
        wh,
        f"UPDATE {TABLE} SET note = '改 {PHONE}', amount = 7 WHERE task_id = 'T0305'",
        f"INSERT INTO {TABLE} VALUES {new_row}",
        *_fingerprints(side),
    )
    v2 = publish_night("run2")
    table = _table(v2)
    assert table["patched"] == {"deleted": 1, "inserted": 2, "masked": 2}
    assert compared == [(2 * PER_MONTH, 2 * PER_MONTH + 1, 2)]
    assert [p["part"] for p in table["parts"] if not p["reused"]] == ["2026-09", "2026-11"]
    _assert_equals_a_fresh_build(v2, wh, tmp_path / "fresh2")
    assert find_unmasked_personal_data(v2) == []

    compared.clear()
    _night(wh, f"DELETE FROM {TABLE} WHERE task_id = 'T0107'", *_fingerprints(side))
    v3 = publish_night("run3")
    assert _table(v3)["patched"] == {"deleted": 1, "inserted": 0, "masked": 0}
    assert compared == [(PER_MONTH, PER_MONTH - 1, 2)]
    assert [p["part"] for p in _table(v3)["parts"] if not p["reused"]] == ["2026-07"]
    _assert_equals_a_fresh_build(v3, wh, tmp_path / "fresh3")

    compared.clear()
    no_fingerprint = (
        "DELETE FROM intermediate.mart_tasks__fingerprints WHERE task_id = 'T0210'"
        if side
        else f"UPDATE {TABLE} SET input_fingerprint = NULL WHERE task_id = 'T0210'"
    )
    _night(wh, *_fingerprints(side), no_fingerprint, f"UPDATE {TABLE} SET amount = 3 WHERE task_id = 'T0210'")
    v4 = publish_night("run4")
    assert _table(v4)["patched"] == {"deleted": 1, "inserted": 1, "masked": 2 + PER_MONTH // 10}
    assert compared == [(3 * PER_MONTH, 3 * PER_MONTH, 2)]
    assert [p["part"] for p in _table(v4)["parts"] if not p["reused"]] == ["2026-08"]
    _assert_equals_a_fresh_build(v4, wh, tmp_path / "fresh4")


def test_identities_are_read_from_the_dbt_manifest(tmp_path: Path):
    """`dbt_identities`: a model's meta `publish_identity` (under config or beside it) by schema.table
    as built (alias first); a declaration without a column, or a table without a key, is left out."""
    nodes = {
        "model.p.a": {
            "resource_type": "model",
            "schema": "core",
            "name": "fct_a",
            "config": {"meta": {"publish_identity": {"column": "input_fingerprint"}}},
        },
        "model.p.b": {
            "resource_type": "model",
            "schema": "marts",
            "name": "b",
            "alias": "mart_b",
            "meta": {
                "publish_identity": {"column": "fp", "table": "intermediate.mart_b__fingerprints", "key": "k"}
            },
        },
        "model.p.c": {
            "resource_type": "model",
            "schema": "marts",
            "name": "c",
            "meta": {"publish_identity": {"column": "fp", "table": "intermediate.x"}},
        },
        "model.p.d": {
            "resource_type": "model",
            "schema": "marts",
            "name": "d",
            "meta": {"publish_identity": "fp"},
        },
        "test.p.e": {
            "resource_type": "test",
            "schema": "marts",
            "name": "e",
            "meta": {"publish_identity": {"column": "fp"}},
        },
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": nodes}), encoding="utf-8")
    assert snapshot.dbt_identities(path) == {
        "core.fct_a": snapshot.Identity("input_fingerprint"),
        "marts.mart_b": snapshot.Identity("fp", "intermediate.mart_b__fingerprints", "k"),
    }
    assert snapshot.dbt_identities(tmp_path / "missing.json") == {}


def test_a_parts_hash_sum_of_18_digits_is_not_taken_for_a_credit_code():
    """A part of one row whose hash is below 10^18 has a sum of 18 digits: written as it is, the
    manifest would hold a bare 18-digit number, which the personal-data scan reads as a credit code
    (the night refused). The manifest pads every sum to publisher.SUM_DIGITS digits; `int()` reads it
    back to the same number."""
    from orchestration.publish.masking import count_personal_data

    part = {"file": "parquet/t/2026-01.parquet", "part": "2026-01", "rows": 1, "sum": "123456789012345678"}
    assert count_personal_data(json.dumps(part)) == (0, 1)
    padded = publisher._manifest_part(part)
    assert padded["sum"] == "0" * 22 + "123456789012345678" and int(padded["sum"]) == 123456789012345678
    assert count_personal_data(json.dumps(padded)) == (0, 0)
    assert publisher._manifest_part({**part, "sum": None})["sum"] is None
