"""The snapshot at scale: unchanged tables reused by hard link, each table's data regex-scanned once,
a cheap length test in front of the masking patterns, and a memory limit on the publisher's DuckDB.

Real publications of small hand-made warehouses (tests/test_publish.py's), real DuckDB and Parquet
files; every expected value is counted from the rows written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import PersonalDataLeak, find_unmasked_personal_data, publisher, scanner, snapshot
from orchestration.publish.masking import MIN_PII_CHARS, install_macros, mask_text
from tests.test_publish import make_warehouse, publish

PHONE = "13987654321"  # in marts.mart_client_overview.last_feedback (free text)


def _tables(version: Path) -> dict[str, dict]:
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    return {t["name"]: t for t in manifest["tables"]}


def _inode(path: Path) -> int:
    return path.stat().st_ino


def test_unchanged_table_is_hard_linked_and_a_changed_one_rewritten(tmp_path: Path):
    wh = make_warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = publish(wh, root, "run1")
    with duckdb.connect(str(wh)) as con:  # the next night: one mart changes, the others do not
        con.execute(
            "UPDATE marts.mart_collections_monthly SET collected = collected + 1 WHERE period = '2026-11'"
        )
    v2 = publish(wh, root, "run2")
    same, changed = "marts.mart_client_overview/all.parquet", "marts.mart_collections_monthly/all.parquet"
    assert _inode(v2 / "parquet" / same) == _inode(v1 / "parquet" / same)
    assert (v2 / "parquet" / same).stat().st_nlink == 2  # one file for both versions: no new bytes
    assert _inode(v2 / "parquet" / changed) != _inode(v1 / "parquet" / changed)
    t1, t2 = _tables(v1), _tables(v2)
    assert not any(t["reused"] for t in t1.values())  # the first version builds every table
    assert {n for n, t in t2.items() if t["reused"]} == {
        "marts.mart_client_overview",
        "raw.load_files",
        "raw.load_rejects",
        "raw.load_runs",
    }
    assert t2["marts.mart_client_overview"]["fingerprint"] == t1["marts.mart_client_overview"]["fingerprint"]
    assert (
        t2["marts.mart_collections_monthly"]["fingerprint"]
        != t1["marts.mart_collections_monthly"]["fingerprint"]
    )
    with duckdb.connect(str(v2 / "snapshot.duckdb"), read_only=True) as con:
        # the changed table has the new number, in the snapshot and in its Parquet file
        for relation in ("marts.mart_collections_monthly", f"'{v2 / 'parquet' / changed}'"):
            got = con.execute(f"SELECT collected FROM {relation} WHERE period = '2026-11'").fetchone()[0]
            assert str(got) == "4201.00"
        # the reused table was filled from the linked file: all rows, masked as published before
        rows = con.execute(
            "SELECT client_id, contact_phone, last_feedback FROM marts.mart_client_overview ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("C001", "138****5678", "客户留言：请回电 139****4321，谢谢"),
        ("C002", "139****1111", None),
        ("C003", None, None),
    ]
    assert publisher.verify_version(root, v2.name) == []  # checksums of linked files are theirs
    assert find_unmasked_personal_data(v2) == []


def test_changed_masking_code_republishes_every_table(tmp_path: Path, monkeypatch):
    wh = make_warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = publish(wh, root, "run1")
    monkeypatch.setattr(snapshot, "recipe", lambda: "another masking")
    v2 = publish(wh, root, "run2")
    assert not any(t["reused"] for t in _tables(v2).values())
    for name in _tables(v2):
        assert _inode(v2 / "parquet" / name / "all.parquet") != _inode(v1 / "parquet" / name / "all.parquet")


def test_a_tampered_previous_parquet_is_not_reused(tmp_path: Path):
    """Reuse needs the previous file verified (sealed, same size): one replaced by a different file
    with PII is neither linked nor trusted; the table is masked from its source again."""
    wh = make_warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = publish(wh, root, "run1")
    old = v1 / "parquet" / "marts.mart_client_overview" / "all.parquet"
    old.unlink()
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT 'C001' AS client_id, '{PHONE}' AS contact_phone) TO '{old}' (FORMAT parquet)"
        )
    v2 = publish(wh, root, "run2")
    assert not _tables(v2)["marts.mart_client_overview"]["reused"]
    assert _inode(v2 / "parquet" / "marts.mart_client_overview" / old.name) != _inode(old)
    assert find_unmasked_personal_data(v2) == []


def test_reused_table_that_no_longer_matches_is_built_again(tmp_path: Path, monkeypatch):
    """The refilled table must be exactly the one published before (its fingerprint), else the
    source is masked again and a new Parquet file written (e.g. a type the round trip changes)."""
    wh = make_warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    v1 = publish(wh, root, "run1")
    real = publisher._reusable_tables

    def wrong_fingerprints(*args):
        return {
            n: snapshot.Reusable(r.source_fingerprint, "0" * 32, r.parts, r.complete)
            for n, r in real(*args).items()
        }

    monkeypatch.setattr(publisher, "_reusable_tables", wrong_fingerprints)
    v2 = publish(wh, root, "run2")
    assert not any(t["reused"] for t in _tables(v2).values())
    assert _tables(v2)["marts.mart_client_overview"]["rows"] == 3
    # its Parquet part holds the same rows as before (its own fingerprint, not the table's): linked
    name = "marts.mart_client_overview/all.parquet"
    assert _inode(v2 / "parquet" / name) == _inode(v1 / "parquet" / name)
    assert _tables(v2)["marts.mart_client_overview"]["parts"][0]["reused"]


def test_each_table_is_regex_scanned_once(tmp_path: Path, monkeypatch):
    """A Parquet file holding its snapshot table's data gets the table's findings without a second
    scan; a Parquet file that differs from every table is scanned on its own."""
    folder = tmp_path / "v"
    (folder / "parquet").mkdir(parents=True)
    with duckdb.connect(str(folder / "snapshot.duckdb")) as con:
        con.execute(f"CREATE TABLE t AS SELECT 'C' || i AS id, '电话 {PHONE}' AS note FROM range(3) r(i)")
        con.execute(f"COPY t TO '{folder / 'parquet' / 'main.t.parquet'}' (FORMAT parquet, COMPRESSION zstd)")
        con.execute(
            f"COPY (SELECT id, replace(note, '{PHONE}', '139****4321') AS note FROM t) "
            f"TO '{folder / 'parquet' / 'other.parquet'}' (FORMAT parquet)"
        )
    scans: list[str] = []
    real = scanner._column_counts
    monkeypatch.setattr(
        scanner,
        "_column_counts",
        lambda con, rel, cols, *rows: scans.append(rel) or real(con, rel, cols, *rows),
    )
    found = find_unmasked_personal_data(folder)
    assert found == [
        "parquet/main.t.parquet: note: 3 unmasked mobile number(s)",
        "snapshot.duckdb: main.t.note: 3 unmasked mobile number(s)",
    ]
    assert len(scans) == 2  # the table and the differing file; not main.t.parquet
    assert any("other.parquet" in s for s in scans) and not any("main.t.parquet" in s for s in scans)


def test_pii_planted_in_a_parquet_copy_only_is_refused(tmp_path: Path, monkeypatch):
    """The Parquet file is not taken on trust: one that differs from its snapshot table (here a
    phone put back in after masking) is scanned on its own and the version is refused."""
    wh = make_warehouse(tmp_path / "warehouse.duckdb")
    real = snapshot._publish_table

    def leaky(con, schema, table, parquet, salt, previous, *rest):
        published = real(con, schema, table, parquet, salt, previous, *rest)
        if table == "mart_collections_monthly":
            (parquet / "all.parquet").unlink()
            con.execute(
                f"COPY (SELECT period || ' {PHONE}' AS period, collected, payments "
                f"FROM {schema}.{table}) TO '{parquet / 'all.parquet'}' (FORMAT parquet)"
            )
        return published

    monkeypatch.setattr(snapshot, "_publish_table", leaky)
    with pytest.raises(PersonalDataLeak, match="mart_collections_monthly/all.parquet: period: 2 unmasked"):
        publish(wh, tmp_path / "published", "run1")


def test_a_table_is_not_trusted_for_a_linked_file_it_does_not_match(tmp_path: Path):
    """A table is skipped only when its content is a Parquet file scanned clean: PII planted in the
    snapshot next to clean linked files is still found."""
    folder = tmp_path / "v"
    (folder / "parquet").mkdir(parents=True)
    clean = folder / "parquet" / "main.t.parquet"
    with duckdb.connect(str(folder / "snapshot.duckdb")) as con:
        con.execute("CREATE TABLE t AS SELECT 'C1' AS id, '电话 139****4321' AS note")
        con.execute(f"COPY t TO '{clean}' (FORMAT parquet, COMPRESSION zstd)")
        con.execute(f"CREATE TABLE u AS SELECT 'C1' AS id, '电话 {PHONE}' AS note")
    assert find_unmasked_personal_data(folder, skip=lambda p: p == clean) == [
        "snapshot.duckdb: main.u.note: 1 unmasked mobile number(s)"
    ]


@pytest.mark.parametrize(
    ("text", "holds_one"),
    [
        (PHONE, True),  # 11 characters: the shortest value that can hold a number
        (f"电话{PHONE}", True),
        ("１３９８７６５４３２１", True),  # full-width digits: 11 characters, 33 bytes
        ("增值税一般纳税人月度申报", False),  # 12 characters, no number
        ("9131 0115 MA1K 4ABC 12", True),  # a spaced credit code
        ("1398765432", False),  # 10 digits: not a mobile number
        ("2026-11-20", False),
        ("短", False),
    ],
)
def test_length_test_keeps_every_number_masked(text: str, holds_one: bool):
    """The SQL masking with its length test in front masks exactly what the Python twin (no length
    test) masks, down to the shortest number."""
    assert len(PHONE) == MIN_PII_CHARS
    with duckdb.connect() as con:
        install_macros(con)
        masked, found = con.execute("SELECT mask_text(?), pii_found(?)", [text, text]).fetchone()
    assert masked == mask_text(text)
    assert (masked != text, found) == (holds_one, holds_one)


def test_scanner_decodes_json_escapes_only_where_present(tmp_path: Path):
    r"""A full-width phone spelled as \uXXXX escapes in a text column is still found (the escape test
    in front of the decoding must not hide it)."""
    escaped = "".join(f"\\u{ord(c):04x}" for c in "１３９８７６５４３２１")
    with duckdb.connect(str(tmp_path / "s.duckdb")) as con:
        con.execute("CREATE TABLE t (note VARCHAR)")
        con.execute("INSERT INTO t VALUES (?), ('plain text')", [f'{{"tel": "{escaped}"}}'])
    assert find_unmasked_personal_data(tmp_path) == ["s.duckdb: main.t.note: 1 unmasked mobile number(s)"]


def test_publisher_duckdb_has_the_memory_limit_and_cleans_its_spill_folder(tmp_path: Path, monkeypatch):
    wh = make_warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    with pytest.raises(duckdb.Error, match="(?i)memory"):  # the setting reaches the connection
        publish(wh, root, "run0", memory_limit="lots")
    seen: list[tuple[str, str]] = []
    real = snapshot._publish_table

    def spy(con, *args):
        seen.append(
            con.execute(
                "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
            ).fetchone()
        )
        return real(con, *args)

    monkeypatch.setattr(snapshot, "_publish_table", spy)
    publish(wh, root, "run1", memory_limit="300MB")
    limit, temp = seen[0]
    assert limit.replace(" ", "").upper() in ("286.1MIB", "300.0MB", "300MB")
    assert Path(temp).name == ".incoming-2026-11-20_run1.tmp"
    assert not Path(temp).exists()
    assert not [p.name for p in root.iterdir() if p.name.startswith(".incoming-")]


def test_publish_memory_settings_reach_the_publisher(monkeypatch):
    from orchestration import resources, settings

    monkeypatch.setenv("OPSCENTER_PUBLISH_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("OPSCENTER_PUBLISH_TEMP_DIR", "/var/tmp/opscenter-publish")
    res = resources.default_resources()["publisher"]
    assert (res.memory_limit, res.temp_dir) == ("1GB", "/var/tmp/opscenter-publish")
    monkeypatch.delenv("OPSCENTER_PUBLISH_MEMORY_LIMIT")
    assert settings.publish_memory_limit() == "1373MiB"  # 40 % of the default budget, 3.6GB


def test_incremental_bookkeeping_columns_are_not_published(tmp_path: Path):
    # fct_tasks keeps an input_fingerprint (a UBIGINT hash) for its incremental build: 18-digit
    # values of it read as credit codes, so publishing it would fail the PII gate; it is no interface
    wh = make_warehouse(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(wh)) as con:
        con.execute("ALTER TABLE marts.mart_client_overview ADD COLUMN input_fingerprint UBIGINT")
        con.execute("UPDATE marts.mart_client_overview SET input_fingerprint = 123456789012345678")
    version = publish(wh, tmp_path / "published", "run1")
    columns = [c["name"] for c in _tables(version)["marts.mart_client_overview"]["columns"]]
    assert "input_fingerprint" not in columns and "client_id" in columns
    with duckdb.connect(str(version / "snapshot.duckdb"), read_only=True) as con:
        got = [r[0] for r in con.execute("DESCRIBE marts.mart_client_overview").fetchall()]
    assert "input_fingerprint" not in got
    assert find_unmasked_personal_data(version) == []


def _rows_scanned(monkeypatch) -> list[int]:
    """Rows of each relation the regular expressions go through, counted as the scanner runs."""
    counted: list[int] = []
    real = scanner._column_counts

    def counting(con, relation, columns, *rows):
        counted.append(con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0])
        return real(con, relation, columns, *rows)

    monkeypatch.setattr(scanner, "_column_counts", counting)
    return counted


def test_a_changed_table_is_scanned_in_its_new_rows_only(tmp_path: Path, monkeypatch):
    """With the previous version's clean Parquet file of the same table as baseline, only rows not
    in it go through the patterns, and the counts are the whole table's: a planted number in a new
    row, in a known row's changed text (same id) and in a row repeated three times are all found."""
    folder, baseline = tmp_path / "v", tmp_path / "previous" / "main.t.parquet"
    folder.mkdir()
    baseline.parent.mkdir()
    clean = "SELECT 'C' || i AS id, '客户留言：请回电 139****4321，谢谢 ' || i AS note, i::INTEGER AS n "
    clean += "FROM range(1000) r(i)"
    with duckdb.connect(str(folder / "snapshot.duckdb")) as con:
        con.execute(f"COPY ({clean}) TO '{baseline}' (FORMAT parquet, COMPRESSION zstd)")
        # the next night: n (an INTEGER, not scanned) changes everywhere, five rows are new
        con.execute(f"CREATE TABLE t AS SELECT id, note, n + 1 AS n FROM ({clean})")
        con.execute(
            f"INSERT INTO t VALUES ('N1', '电话 {PHONE}', 1), ('N2', '无', 2), ('C7', '改号 {PHONE}', 7), "
            f"('N3', '{PHONE}', 3), ('N3', '{PHONE}', 3), ('N3', '{PHONE}', 3)"
        )
    expected = ["snapshot.duckdb: main.t.note: 5 unmasked mobile number(s)"]
    scanned = _rows_scanned(monkeypatch)
    assert find_unmasked_personal_data(folder, baselines={"main.t": [baseline]}) == expected
    assert scanned == [6]  # the new rows only; 1,000 known ones spared
    scanned.clear()
    assert find_unmasked_personal_data(folder) == expected  # no baseline: every row, same findings
    assert scanned == [1006]
    scanned.clear()
    other = tmp_path / "previous" / "other.parquet"  # note as another type: not a baseline for t
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT id, length(note) AS note FROM ({clean})) TO '{other}' (FORMAT parquet)")
    assert find_unmasked_personal_data(folder, baselines={"main.t": [other]}) == expected
    assert scanned == [1006]


def test_a_nights_new_rows_are_scanned_against_the_previous_version(tmp_path: Path, monkeypatch):
    """The publisher gives the scanner the previous version's verified Parquet files: a changed
    table is scanned in its new rows only, and a number planted there after masking is refused."""
    wh = make_warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    publish(wh, root, "run1")
    with duckdb.connect(str(wh)) as con:  # the next night: one mart changes in a number column
        con.execute(
            "UPDATE marts.mart_collections_monthly SET collected = collected + 1 WHERE period = '2026-11'"
        )
    real = snapshot._publish_table

    def leaky(con, schema, table, parquet, salt, previous, *rest):
        published = real(con, schema, table, parquet, salt, previous, *rest)
        if table == "mart_collections_monthly":  # a new row holding a number, table and Parquet alike
            con.execute(f"INSERT INTO {schema}.{table} VALUES ('2026-12 {PHONE}', 1, 1)")
            (parquet / "all.parquet").unlink()
            con.execute(
                f"COPY {schema}.{table} TO '{parquet / 'all.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
            )
        return published

    monkeypatch.setattr(snapshot, "_publish_table", leaky)
    scanned = _rows_scanned(monkeypatch)
    with pytest.raises(PersonalDataLeak) as refused:
        publish(wh, root, "run2")
    assert "snapshot.duckdb: marts.mart_collections_monthly.period: 1 unmasked mobile number(s)" in str(
        refused.value
    )
    assert "marts.mart_collections_monthly/all.parquet: period: 1 unmasked mobile number(s)" in str(
        refused.value
    )
    assert scanned == [1]  # the changed table: its planted row; 2026-10 and 2026-11 known; no other table


def _published_rows(version: Path) -> dict[str, tuple[list, list]]:
    """Each table of a version's snapshot: its (column, type) list and its rows sorted."""
    out = {}
    with duckdb.connect(str(version / "snapshot.duckdb"), read_only=True) as con:
        for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
            name = f'"{schema}"."{table}"'
            columns = con.execute(f"DESCRIBE {name}").fetchall()
            rows = sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            out[f"{schema}.{table}"] = ([c[:2] for c in columns], rows)
    return out


def test_clean_text_columns_are_copied_as_they_are_and_the_rest_masked(tmp_path: Path, monkeypatch):
    """A large table's text columns holding no number (found over their distinct long values) are
    copied without the per-row masking test; a column holding one (mart_client_overview's feedback)
    is masked as before. The version equals the one masked row by row, table for table, and the
    scan still passes it (a column wrongly taken as clean would leak its phone and be refused)."""
    wh = make_warehouse(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(wh)) as con:  # a key column and a name column holding numbers too
        con.execute(
            "CREATE TABLE marts.mart_notes AS SELECT 'N' || i AS note_id, '备注 ' || (i % 3) AS note, "
            "CASE WHEN i = 7 THEN '请回电 13987654321' ELSE '第' || i || '条 回访记录 已完成' END AS remark, "
            "CASE WHEN i = 5 THEN '9131011' || '5MA1K4ABC12' ELSE 'K' || i || '-0000000000' END AS ref_key "
            "FROM range(40) r(i)"
        )
    monkeypatch.setattr(snapshot, "CLEAN_PREPASS_MIN_ROWS", 0)
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{wh}' AS {snapshot.SOURCE_ALIAS} (READ_ONLY)")
        install_macros(con)
        src = f"{snapshot.SOURCE_ALIAS}.marts.mart_notes"
        columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {src}").fetchall()]
        assert snapshot._clean_text_columns(con, src, "marts", "mart_notes", columns) == {"note_id", "note"}
        src = f"{snapshot.SOURCE_ALIAS}.marts.mart_client_overview"
        columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {src}").fetchall()]
        clean = snapshot._clean_text_columns(con, src, "marts", "mart_client_overview", columns)
        assert "last_feedback" not in clean and "contact_phone" not in clean and "client_id" in clean
    fast = publish(wh, tmp_path / "fast", "r1")
    monkeypatch.setattr(snapshot, "CLEAN_PREPASS_MIN_ROWS", 10**12)
    slow = publish(wh, tmp_path / "slow", "r1")
    assert _published_rows(fast) == _published_rows(slow)
    notes = _published_rows(fast)["marts.mart_notes"][1]
    assert any(r[2] == "请回电 139****4321" for r in notes) and any(r[3].startswith("pii-") for r in notes)
