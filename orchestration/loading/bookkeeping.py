"""Writing a load's outcome: raw.<entity> and raw.load_files / load_rejects / load_file_state /
load_warnings / load_runs, and the keys stg_<entity>'s unique test has to read (test_scope), in one
transaction (rejected files on their own)."""

from __future__ import annotations

import datetime as dt

from orchestration.contract import ENTITIES
from orchestration.raw_schema import create_table_sql

from .options import RULES_VERSION, DateBounds
from .results import COUNTED, FileStats, LoadResult
from .staging import quote_ident, raw_columns, same_key

CHINA = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST


def _file_rows(result: LoadResult, files: list[FileStats]) -> list[tuple]:
    return [
        (
            result.load_id,
            result.as_of_date,
            result.entity,
            f.source_file,
            f.file_order,
            f.file_format,
            f.encoding,
            f.status,
            f.message or None,
            f.rows_read,
            f.rows_accepted,
            f.rows_rejected,
            f.rows_superseded,
        )
        for f in files
    ]


def record_rejected_files(conn, result: LoadResult, rejected: list[FileStats]) -> None:
    """Persist the failed attempt's rejected files on their own, leaving everything else as it was."""
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(
            "DELETE FROM raw.load_files WHERE entity = ? AND load_id = ?", [result.entity, result.load_id]
        )
        conn.executemany(
            "INSERT INTO raw.load_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _file_rows(result, rejected),
        )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def publish(conn, entity: str, result: LoadResult, bounds: DateBounds) -> None:
    """Swap in the new table and this entity's bookkeeping in one transaction."""
    spec = ENTITIES[entity]
    out_cols = raw_columns(spec)
    key_order = ", ".join(quote_ident(k) for k in spec.primary_key)
    kept = [f.source_file for f in result.files if f.status == "skipped_unchanged"]
    conn.execute("BEGIN TRANSACTION")
    try:
        if result.merge:  # the new files' keys only: their rows replaced by the winners, in key order
            conn.execute(
                f"DELETE FROM raw.{entity} WHERE rowid IN (SELECT r.rowid FROM raw.{entity} AS r "
                f"SEMI JOIN _ld_touched AS t ON {same_key(spec, 'r', 't')})"
            )
            conn.execute(f"INSERT INTO raw.{entity} SELECT {out_cols} FROM _ld_winners ORDER BY {key_order}")
        elif not result.nothing_new:
            conn.execute(create_table_sql(entity))
            conn.execute(f"INSERT INTO raw.{entity} SELECT {out_cols} FROM _ld_winners ORDER BY {key_order}")
        record_loaded_keys(conn, result)
        conn.execute("DELETE FROM raw.load_files WHERE entity = ?", [entity])
        if result.files:
            conn.executemany(
                "INSERT INTO raw.load_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _file_rows(result, result.files),
            )
        # Rejects of skipped files stay (they carry the load_id that read them); the rest is replaced.
        conn.execute(
            "DELETE FROM raw.load_rejects WHERE entity = ? AND NOT list_contains(?::VARCHAR[], source_file)",
            [entity, kept],
        )
        conn.execute("INSERT INTO raw.load_rejects SELECT * FROM _ld_rejects")
        _write_file_state(conn, result, bounds)
        _write_warnings(conn, spec, result)
        _write_run(conn, result)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def loaded_keys_table(entity: str) -> str | None:
    """The key table of stg_<entity>'s unique test (dbt_project/macros/untested_keys.sql: the keys
    written since that test last passed, test_scope.<schema>__<model>); None for a compound key."""
    spec = ENTITIES[entity]
    return f"staging__stg_{entity}" if len(spec.primary_key) == 1 else None


def record_loaded_keys(conn, result: LoadResult) -> None:
    """Keep the staging unique test's key table true to what this load wrote (in its transaction).

    A merge rewrites only the keys of its new rows (`_ld_touched`: deleted, then their winners
    inserted), so only those keys can have gained a second row: they are added to the table when it
    exists (dbt's on-run-end creates it, empty, once the test passed). A full reload rewrites every
    key: the table goes and the next test reads every row. A load with nothing new writes nothing."""
    table = loaded_keys_table(result.entity)
    if table is None or result.nothing_new:
        return
    exists = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = 'test_scope' AND table_name = ?",
        [table],
    ).fetchall()[0][0]
    if not exists:
        return
    if result.merge:
        key = quote_ident(ENTITIES[result.entity].primary_key[0])
        conn.execute(f"INSERT INTO test_scope.{table} ({key}) SELECT {key} FROM _ld_touched")
    else:
        conn.execute(f"DROP TABLE test_scope.{table}")


def _write_file_state(conn, result: LoadResult, bounds: DateBounds) -> None:
    conn.execute("DELETE FROM raw.load_file_state WHERE entity = ?", [result.entity])
    rows = [
        (result.entity, f.source_file, f.size_bytes, f.checksum, f.read_load_id, RULES_VERSION,
         bounds.lower, bounds.upper, f.date_min_seen, f.date_max_in_range, f.date_min_above, f.rows_read,
         f.rows_accepted, f.rows_rejected, f.rows_superseded, f.file_format, f.encoding, _own_message(f),
         f.file_stat)
        for f in result.files if f.status in COUNTED
    ]  # fmt: skip
    if rows:
        conn.executemany(f"INSERT INTO raw.load_file_state VALUES ({', '.join('?' * 19)})", rows)


def _own_message(f: FileStats) -> str | None:
    """The file's message from the load that read it (without the 'unchanged since' note)."""
    if f.status != "skipped_unchanged":
        return f.message or None
    return "; ".join(f.message.split("; ")[1:]) or None


def _write_warnings(conn, spec, result: LoadResult) -> None:
    """Accepted rows updated after the as-of date (contract 1.1: a warning, not a reject)."""
    conn.execute("DELETE FROM raw.load_warnings WHERE entity = ?", [spec.name])
    if not spec.has_updated_at:
        return
    key = " || '|' || ".join(f"coalesce({quote_ident(k)}::VARCHAR, '')" for k in spec.primary_key)
    conn.execute(
        f"""INSERT INTO raw.load_warnings
        SELECT ?, ?, ?, 'future_updated_at', _source_file, _source_line, {key},
               'updated_at ' || updated_at::VARCHAR || ' 晚于数据日期 later than the as-of date '
               || ?::VARCHAR
        FROM {result.winners} WHERE updated_at >= ?::DATE + INTERVAL 1 DAY
        ORDER BY _source_file, _source_line""",
        [result.load_id, result.as_of_date, spec.name, result.as_of_date, result.as_of_date],
    )
    result.rows_future_updated_at = conn.execute(
        "SELECT count(*) FROM raw.load_warnings WHERE entity = ?", [spec.name]
    ).fetchall()[0][0]


def _write_run(conn, result: LoadResult) -> None:
    loaded_at = dt.datetime.now(CHINA).replace(tzinfo=None)
    conn.execute(
        "DELETE FROM raw.load_runs WHERE entity = ? AND load_id = ?", [result.entity, result.load_id]
    )
    conn.execute(
        "INSERT INTO raw.load_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.load_id,
            result.as_of_date,
            result.entity,
            result.count("loaded") + result.count("skipped_unchanged"),
            result.rows_read,
            result.rows_accepted,
            result.rows_rejected,
            result.rows_unique,
            result.max_updated_at,
            loaded_at,
        ],
    )
