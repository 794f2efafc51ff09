"""Nights over growing landing zones: unchanged files are skipped, and the raw tables always equal a
full reload of the same files (real DuckDB files, hand-made data with duplicates across files)."""

import datetime as dt
import os
from pathlib import Path

import duckdb

from orchestration.loading import load_entity

AS_OF = dt.date(2026, 11, 20)
HEAD = "payment_id,paid_date,amount,channel,updated_at\n"


def write(raw: Path, name: str, text: str) -> Path:
    (raw / "payments").mkdir(parents=True, exist_ok=True)
    path = raw / "payments" / name
    path.write_text(HEAD + text, encoding="utf-8")
    return path


def night(db: Path, raw: Path, load_id: str, as_of: dt.date = AS_OF):
    with duckdb.connect(str(db)) as conn:
        result = load_entity(conn, "payments", raw, load_id=load_id, as_of_date=as_of)
        return result, state(conn)


def state(conn) -> dict:
    return {
        "raw": conn.execute(
            "SELECT payment_id, amount::VARCHAR, updated_at, _source_file, _source_line FROM raw.payments "
            "ORDER BY payment_id"
        ).fetchall(),
        "rejects": conn.execute(
            "SELECT source_file, source_line, reason FROM raw.load_rejects ORDER BY ALL"
        ).fetchall(),
        "files": conn.execute(
            "SELECT source_file, rows_read, rows_accepted, rows_rejected, rows_superseded "
            "FROM raw.load_files ORDER BY source_file"
        ).fetchall(),
    }


def full_reload(tmp_path: Path, raw: Path, name: str, as_of: dt.date = AS_OF) -> dict:
    return night(tmp_path / f"{name}.duckdb", raw, "full", as_of)[1]


def statuses(result) -> list[tuple[str, str]]:
    return [(f.source_file.split("/")[1], f.status) for f in result.files]


def test_second_night_reads_nothing_and_changes_nothing(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    write(raw, "1_snapshot.csv", "P1,2026-11-01,10,cash,2026-11-01\nP2,2026-11-01,x,cash,2026-11-01\n")
    write(raw, "2_drop.csv", "P1,2026-11-01,11,cash,2026-11-02\nP3,2026-11-02,5,cash,2026-11-02\n")
    first, before = night(db, raw, "n1")
    second, after = night(db, raw, "n2")
    assert statuses(first) == [("1_snapshot.csv", "loaded"), ("2_drop.csv", "loaded")]
    assert statuses(second) == [("1_snapshot.csv", "skipped_unchanged"), ("2_drop.csv", "skipped_unchanged")]
    assert not second.full_reload
    assert after == before
    assert before["raw"][0][:2] == ("P1", "11.00") and len(before["raw"]) == 2
    assert before["files"] == [("payments/1_snapshot.csv", 2, 1, 1, 1), ("payments/2_drop.csv", 2, 2, 0, 0)]


def test_new_drops_are_merged_exactly_as_a_full_reload(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    write(raw, "b_snapshot.csv", "P1,2026-11-01,10,cash,2026-11-01\nP2,2026-11-01,20,cash,2026-11-01\n")
    write(raw, "d_drop.csv", "P2,2026-11-02,21,cash,2026-11-03\n")
    night(db, raw, "n1")
    # a late file whose name sorts between the two, a tie on updated_at (the later file name wins),
    # an older version (loses), a new key, and a newer version of a key from the first night
    write(raw, "c_late.csv", "P2,2026-11-02,22,cash,2026-11-03\nP1,2026-10-30,9,cash,2026-10-30\n")
    write(raw, "e_drop.csv", "P4,2026-11-04,40,cash,2026-11-04\nP1,2026-11-04,12,cash,2026-11-04\n")
    result, merged = night(db, raw, "n2")
    assert statuses(result) == [
        ("b_snapshot.csv", "skipped_unchanged"), ("c_late.csv", "loaded"),
        ("d_drop.csv", "skipped_unchanged"), ("e_drop.csv", "loaded"),
    ]  # fmt: skip
    assert merged == full_reload(tmp_path, raw, "full")
    assert [(r[0], r[1], r[3]) for r in merged["raw"]] == [
        ("P1", "12.00", "payments/e_drop.csv"),
        ("P2", "21.00", "payments/d_drop.csv"),  # tie with c_late: the later file name wins
        ("P4", "40.00", "payments/e_drop.csv"),
    ]


def test_a_changed_file_is_read_again(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    write(raw, "1.csv", "P1,2026-11-01,10,cash,2026-11-01\nP2,2026-11-01,bad,cash,2026-11-01\n")
    write(raw, "2.csv", "P3,2026-11-02,30,cash,2026-11-02\n")
    night(db, raw, "n1")
    write(raw, "1.csv", "P1,2026-11-01,15,cash,2026-11-01\nP2,2026-11-01,20,cash,2026-11-01\n")  # corrected
    result, after = night(db, raw, "n2")
    assert result.full_reload and [f.status for f in result.files] == ["loaded", "loaded"]
    assert after == full_reload(tmp_path, raw, "full")
    assert [r[:2] for r in after["raw"]] == [("P1", "15.00"), ("P2", "20.00"), ("P3", "30.00")]
    assert after["rejects"] == []  # the corrected file's old reject is gone
    (raw / "payments" / "2.csv").unlink()  # a removed file's rows leave the raw table
    _, removed = night(db, raw, "n3")
    assert [r[0] for r in removed["raw"]] == ["P1", "P2"]


def test_a_later_as_of_rereads_only_when_the_date_check_could_change(tmp_path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    write(raw, "1.csv", "P1,2026-11-01,10,cash,2026-11-01\n")
    write(raw, "2.csv", "P2,2031-12-01,20,cash,2026-11-01\n")  # beyond as_of + 5 years: rejected
    first, _ = night(db, raw, "n1")
    assert first.rows_rejected == 1
    next_night, _ = night(db, raw, "n2", dt.date(2026, 11, 25))  # bound 2031-11-25: same outcome
    assert [f.status for f in next_night.files] == ["skipped_unchanged", "skipped_unchanged"]
    later = dt.date(2026, 12, 5)  # the bound passes 2031-12-01: P2 becomes plausible, entity re-read
    result, after = night(db, raw, "n3", later)
    assert result.full_reload and [f.status for f in result.files] == ["loaded", "loaded"]
    assert after == full_reload(tmp_path, raw, "full", later)
    assert [r[0] for r in after["raw"]] == ["P1", "P2"]
    back, _ = night(db, raw, "n4", dt.date(2026, 11, 30))  # bound back to 2031-11-30: P2 rejected again
    assert back.full_reload and back.rows_rejected == 1
    assert night(db, raw, "n5", dt.date(2026, 11, 30))[0].full_reload is False


def test_a_drop_replaces_only_its_keys_rows_in_place_composite_keys_with_nulls_too(tmp_path):
    """targets: key (period, metric, scope_type, scope_id), scope_id empty for the company; no updated_at,
    so the later file wins. Rows of keys the drop does not hold are left where they are (same rowid: the
    table is not rewritten, where a rewrite in key order would move them after the new first key)."""
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    (raw / "targets").mkdir(parents=True)
    head = "period,metric,scope_type,scope_id,target_value\n"
    (raw / "targets" / "1_base.csv").write_text(
        head + "2026-11,collected_amount,company,,100\n2026-11,collected_amount,team,T1,40\n"
        "2026-10,collected_amount,company,,90\n",
        encoding="utf-8",
    )

    def targets(conn):
        return conn.execute(
            "SELECT rowid, period, coalesce(scope_id, '(company)'), target_value::VARCHAR, _source_file "
            "FROM raw.targets"
        ).fetchall()

    with duckdb.connect(str(db)) as conn:
        load_entity(conn, "targets", raw, load_id="n1", as_of_date=AS_OF)
        before = {r[1:3]: r for r in targets(conn)}
    (raw / "targets" / "2_drop.csv").write_text(
        head + "2026-11,collected_amount,company,,120\n2026-09,collected_amount,company,,130\n",
        encoding="utf-8",
    )
    with duckdb.connect(str(db)) as conn:
        result = load_entity(conn, "targets", raw, load_id="n2", as_of_date=AS_OF)
        after = targets(conn)
        files = conn.execute(
            "SELECT source_file, status, rows_read, rows_accepted, rows_superseded FROM raw.load_files "
            "ORDER BY 1"
        ).fetchall()
    assert result.merge and result.rows_unique == 4
    assert sorted(r[1:] for r in after) == [
        ("2026-09", "(company)", "130.0", "targets/2_drop.csv"),  # a new key sorting first
        ("2026-10", "(company)", "90.0", "targets/1_base.csv"),
        ("2026-11", "(company)", "120.0", "targets/2_drop.csv"),  # the later file wins the NULL-scope key
        ("2026-11", "T1", "40.0", "targets/1_base.csv"),
    ]
    kept = [r for r in after if r[4] == "targets/1_base.csv"]
    assert len(kept) == 2 and kept == [before[r[1:3]] for r in kept]  # untouched keys: not rewritten
    assert files == [
        ("targets/1_base.csv", "skipped_unchanged", 3, 3, 1),
        ("targets/2_drop.csv", "loaded", 2, 2, 0),
    ]
    with duckdb.connect(str(tmp_path / "full.duckdb")) as conn:
        load_entity(conn, "targets", raw, load_id="full", as_of_date=AS_OF)
        assert sorted(r[1:] for r in targets(conn)) == sorted(r[1:] for r in after)


def scope_keys(db: Path) -> set[str] | None:
    """stg_payments' unique-test key table (dbt_project/macros/untested_keys.sql); None: no table."""
    with duckdb.connect(str(db), read_only=True) as conn:
        if not conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'staging__stg_payments'"
        ).fetchall()[0][0]:
            return None
        return {
            r[0] for r in conn.execute("SELECT payment_id FROM test_scope.staging__stg_payments").fetchall()
        }


def test_loads_keep_the_staging_unique_tests_keys(tmp_path):
    """A merge adds the keys it rewrote to stg_payments' key table (once dbt's on-run-end made it), a
    load with nothing new adds none, a full reload drops the table (the next test reads every row)."""
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    write(raw, "b_snapshot.csv", "P1,2026-11-01,10,cash,2026-11-01\nP2,2026-11-01,20,cash,2026-11-01\n")
    night(db, raw, "n1")
    assert scope_keys(db) is None  # before any test: nothing to keep
    with duckdb.connect(str(db)) as conn:  # what dbt's on-run-end leaves once the test passed
        conn.execute("CREATE SCHEMA test_scope")
        conn.execute("CREATE TABLE test_scope.staging__stg_payments (payment_id VARCHAR)")
    night(db, raw, "n2")
    assert scope_keys(db) == set()
    write(raw, "c_drop.csv", "P2,2026-11-02,21,cash,2026-11-03\nP4,2026-11-04,40,cash,2026-11-04\n")
    night(db, raw, "n3")
    write(raw, "d_drop.csv", "P4,2026-11-05,41,cash,2026-11-05\nP5,2026-11-05,50,cash,2026-11-05\n")
    result, _ = night(db, raw, "n4")
    assert result.merge and scope_keys(db) == {"P2", "P4", "P5"}  # P4 twice: the test reads it once
    write(raw, "b_snapshot.csv", "P1,2026-11-01,11,cash,2026-11-06\n")  # changed: a full reload
    result, _ = night(db, raw, "n5")
    assert result.full_reload and scope_keys(db) is None


class Reads:
    """Counts the landing-zone files the loader opens and the bytes it reads from them."""

    def __init__(self, monkeypatch):
        from orchestration.loading import filescan, sources, transcode

        self.opened: list[str] = []
        self.bytes = 0
        real = filescan.open_source

        def counting(path):
            reader = real(path)
            self.opened.append(Path(path).name)
            read = reader.read

            def counted(size=-1):
                data = read(size)
                self.bytes += len(data)
                return data

            reader.read = counted
            return reader

        for module in (filescan, sources, transcode):
            monkeypatch.setattr(module, "open_source", counting)

    def reset(self) -> None:
        self.opened, self.bytes = [], 0


def later_clock(monkeypatch, seconds: float = 10.0) -> None:
    """The loads run `seconds` after the files were written (instead of sleeping that long)."""
    import time

    from orchestration.loading import incremental

    monkeypatch.setattr(incremental, "_clock_ns", lambda: time.time_ns() + int(seconds * 1e9))


def file_stats(db: Path) -> dict[str, str | None]:
    with duckdb.connect(str(db)) as conn:
        rows = conn.execute("SELECT source_file, file_stat FROM raw.load_file_state ORDER BY 1").fetchall()
    return {name.split("/")[1]: stat for name, stat in rows}


def test_files_unchanged_by_stat_are_skipped_without_being_read(tmp_path, monkeypatch):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    one = write(raw, "1.csv", "P1,2026-11-01,10,cash,2026-11-01\nP2,2026-11-01,bad,cash,2026-11-01\n")
    two = write(raw, "2.csv", "P3,2026-11-02,30,cash,2026-11-02\n")
    reads = Reads(monkeypatch)
    later_clock(monkeypatch)
    first, before = night(db, raw, "n1")
    assert [f.status for f in first.files] == ["loaded", "loaded"]
    assert reads.bytes >= 2 * (one.stat().st_size + two.stat().st_size)  # scanned, then read
    st = one.stat()
    recorded = f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_dev} {st.st_ino}"
    assert file_stats(db)["1.csv"] == recorded
    reads.reset()
    second, after = night(db, raw, "n2")
    assert [f.status for f in second.files] == ["skipped_unchanged", "skipped_unchanged"]
    assert (reads.opened, reads.bytes) == ([], 0)  # neither file opened
    assert after == before and second.rows_read == 3 and second.rows_rejected == 1
    # same size, new content, mtime set back to the recorded one: the ctime still tells
    one.write_text(HEAD + "P1,2026-11-01,15,cash,2026-11-01\nP2,2026-11-01,207,cash,2026-11-01\n")
    os.utime(one, ns=(st.st_atime_ns, st.st_mtime_ns))
    now = one.stat()
    assert (now.st_size, now.st_mtime_ns, now.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    reads.reset()
    third, changed = night(db, raw, "n3")
    assert third.full_reload and [f.status for f in third.files] == ["loaded", "loaded"]
    assert "1.csv" in reads.opened and "2.csv" in reads.opened
    assert [r[:2] for r in changed["raw"]] == [("P1", "15.00"), ("P2", "207.00"), ("P3", "30.00")]
    assert changed == full_reload(tmp_path, raw, "full")


def test_a_stat_is_trusted_only_once_the_file_is_older_than_the_racy_margin(tmp_path, monkeypatch):
    """Files loaded right after they were written (mtime and ctime within RACY_MARGIN_NS) get no
    file_stat: the next load hashes them (and records their stat once they are old enough)."""
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    one = write(raw, "1.csv", "P1,2026-11-01,10,cash,2026-11-01\n")
    size = one.stat().st_size
    reads = Reads(monkeypatch)
    night(db, raw, "n1")
    assert file_stats(db) == {"1.csv": None}
    reads.reset()
    second, _ = night(db, raw, "n2")  # unchanged, found by its checksum: read once, not loaded
    assert [f.status for f in second.files] == ["skipped_unchanged"]
    assert (reads.opened, reads.bytes) == (["1.csv"], size) and file_stats(db) == {"1.csv": None}
    # rewritten in the same tick, same size and mtime: a stat recorded now could not tell
    st = one.stat()
    one.write_text(HEAD + "P1,2026-11-01,11,cash,2026-11-01\n")
    os.utime(one, ns=(st.st_atime_ns, st.st_mtime_ns))
    third, changed = night(db, raw, "n3")
    assert [f.status for f in third.files] == ["loaded"] and changed["raw"][0][1] == "11.00"
    later_clock(monkeypatch)
    reads.reset()
    night(db, raw, "n4")
    assert reads.opened == ["1.csv"] and file_stats(db)["1.csv"] is not None  # hashed, stat recorded
    reads.reset()
    fifth, _ = night(db, raw, "n5")
    assert [f.status for f in fifth.files] == ["skipped_unchanged"] and reads.opened == []


def test_an_older_warehouse_gains_the_file_stat_column(tmp_path, monkeypatch):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    write(raw, "1.csv", "P1,2026-11-01,10,cash,2026-11-01\n")
    later_clock(monkeypatch)
    night(db, raw, "n1")
    with duckdb.connect(str(db)) as conn:  # the table as it shipped before file_stat
        conn.execute("ALTER TABLE raw.load_file_state DROP COLUMN file_stat")
    reads = Reads(monkeypatch)
    second, _ = night(db, raw, "n2")
    assert [f.status for f in second.files] == ["skipped_unchanged"] and reads.opened == ["1.csv"]
    assert file_stats(db)["1.csv"] is not None
    reads.reset()
    assert [f.status for f in night(db, raw, "n3")[0].files] == ["skipped_unchanged"] and reads.opened == []
