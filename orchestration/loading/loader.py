"""Load one entity's landing-zone files into raw.<entity>, atomically, with full row accounting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.contract import ENTITIES
from orchestration.raw_schema import create_raw_schema, create_table_sql

from .errors import FileRejected, LoadError
from .headers import map_headers
from .parsing import lit, macros_sql, parse_sql, reason_sql, row_rule_sql
from .sources import SOURCE_TABLE, SourceFile, list_files, read_source

CHINA = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST


@dataclass
class FileStats:
    source_file: str
    file_order: int
    file_format: str
    encoding: str | None
    status: str = "loaded"  # 'loaded' | 'rejected_file'
    message: str = ""
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_superseded: int = 0
    empty_rows_skipped: int = 0  # records whose every cell is empty: not rows, not counted


@dataclass
class LoadResult:
    entity: str
    load_id: str
    as_of_date: dt.date
    files: list[FileStats] = field(default_factory=list)
    rows_unique: int = 0
    max_updated_at: dt.datetime | None = None

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_accepted(self) -> int:
        return sum(f.rows_accepted for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def rows_superseded(self) -> int:
        return sum(f.rows_superseded for f in self.files)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_entity(
    conn: duckdb.DuckDBPyConnection,
    entity: str,
    raw_dir: Path,
    *,
    load_id: str,
    as_of_date: dt.date,
) -> LoadResult:
    """Load `<raw_dir>/<entity>/*.csv|*.xlsx` into raw.<entity> (one row per primary key).

    Bookkeeping goes to raw.load_files / raw.load_rejects (this entity's rows replaced) and
    raw.load_runs (one row appended), all in the same transaction as the table itself. Raises
    LoadError when a required folder is missing or empty or any file is rejected whole; then the
    rejected files are recorded in raw.load_files (committed) and raw.<entity> is left untouched.
    """
    if entity not in ENTITIES:
        raise LoadError(f"unknown entity {entity!r}")
    spec = ENTITIES[entity]
    create_raw_schema(conn)
    for stmt in macros_sql():
        conn.execute(stmt)

    result = LoadResult(entity, load_id, as_of_date)
    sources = list_files(Path(raw_dir), entity)
    if not sources and spec.required:
        state = "missing" if sources is None else "empty (no .csv/.xlsx files)"
        folder = Path(raw_dir) / entity
        raise LoadError(f"{entity}: 必需的数据目录缺失或为空 required folder {folder} is {state}")

    conn.execute(create_table_sql(entity, "_ld_rows").replace("TABLE", "TEMP TABLE", 1))
    conn.execute("ALTER TABLE _ld_rows ADD COLUMN _file_order INTEGER")
    conn.execute("CREATE OR REPLACE TEMP TABLE _ld_rejects AS SELECT * FROM raw.load_rejects WITH NO DATA")
    try:
        for source in sources or []:
            result.files.append(_load_file(conn, entity, source, load_id))
        rejected = [f for f in result.files if f.status == "rejected_file"]
        if rejected:
            _record_rejected_files(conn, result, rejected)
            details = "; ".join(f"{f.source_file}: {f.message}" for f in rejected)
            message = f"{entity}: 文件被拒收，本次未加载 file(s) rejected, load aborted — {details}"
            raise LoadError(message, result)
        _dedup(conn, spec, result)
        _publish(conn, entity, result)
    finally:
        for table in (
            "_ld_rows",
            "_ld_rejects",
            "_ld_ranked",
            "_ld_stage",
            SOURCE_TABLE,
            "_ld_csv",
            "_ld_csv_slots",
        ):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return result


def _load_file(conn, entity: str, source: SourceFile, load_id: str) -> FileStats:
    stats = FileStats(source.source_file, source.file_order, source.file_format, None)
    try:
        info = read_source(conn, source)
        stats.encoding = info.encoding
        header_map = map_headers(entity, info.headers)
    except FileRejected as exc:
        stats.status, stats.message = "rejected_file", str(exc)
        return stats

    _stage_file(conn, entity, header_map)
    read, accepted, rejected, total = conn.execute(
        "SELECT count(*) FILTER (NOT _empty), count(*) FILTER (NOT _empty AND _reason IS NULL), "
        "count(*) FILTER (NOT _empty AND _reason IS NOT NULL), count(*) FROM _ld_stage"
    ).fetchall()[0]
    assert read == accepted + rejected, f"{source.source_file}: {read} != {accepted} + {rejected}"
    stats.rows_read, stats.rows_accepted, stats.rows_rejected = read, accepted, rejected
    stats.empty_rows_skipped = total - read
    notes = [info.note] if info.note else []
    if stats.empty_rows_skipped:
        notes.append(f"跳过空行 skipped {stats.empty_rows_skipped} empty record(s)")
    stats.message = "; ".join(notes)

    cols = ", ".join(_q(c) for c in ENTITIES[entity].column_names)
    src = lit(source.source_file)
    conn.execute(
        f"INSERT INTO _ld_rows SELECT {cols}, {src}, _line, _extra, {source.file_order} "
        "FROM _ld_stage WHERE NOT _empty AND _reason IS NULL"
    )
    conn.execute(
        f"INSERT INTO _ld_rejects SELECT {lit(load_id)}, {lit(entity)}, {src}, _line, _reason, raw_record "
        "FROM _ld_stage WHERE NOT _empty AND _reason IS NOT NULL ORDER BY _line"
    )
    return stats


def _stage_file(conn, entity: str, hm) -> None:
    """One SELECT over the file's cells: typed columns, reject reason, raw record, extras."""
    spec = ENTITIES[entity]

    def v(name: str) -> str:
        return _q("v:" + name)

    def p(name: str) -> str:
        return _q(name)

    cells = [f"c{i}" for i in range(len(hm.keys))]
    cleaned = [
        (f"_ld_clean(c{hm.columns[c.name]})" if c.name in hm.columns else "NULL::VARCHAR")
        + f" AS {v(c.name)}"
        for c in spec.columns
    ]
    raw_record = "json_object(" + ", ".join(f"{lit(k)}, c{i}" for i, k in enumerate(hm.keys)) + ")"
    extra = (
        "json_object(" + ", ".join(f"{lit(hm.keys[i])}, c{i}" for i in hm.extras) + ")"
        if hm.extras
        else "'{}'::JSON"
    )
    empty = " AND ".join(f"_ld_clean({c}) IS NULL" for c in cells) or "true"
    parsed = [f"{parse_sql(c, v(c.name))} AS {p(c.name)}" for c in spec.columns]
    reasons = [reason_sql(c, v(c.name), p(c.name)) for c in spec.columns]
    reasons += [row_rule_sql(spec, left, op, right, p) for left, op, right in spec.row_rules]
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ld_stage AS
        WITH cells AS (
            SELECT _line, {empty} AS _empty, {raw_record} AS raw_record, {extra} AS _extra,
                   {", ".join(cleaned)}
            FROM {SOURCE_TABLE}
        ), typed AS (
            SELECT *, {", ".join(parsed)} FROM cells
        )
        SELECT *,
               nullif(array_to_string(list_filter([{", ".join(reasons)}], lambda r: r IS NOT NULL), '; '), '')
               AS _reason
        FROM typed"""
    )


def _dedup(conn, spec, result: LoadResult) -> None:
    """Rank versions of each key: greatest updated_at, then later file, then later line wins."""
    order = ([_q("updated_at") + " DESC"] if spec.has_updated_at else []) + [
        "_file_order DESC",
        "_source_line DESC",
    ]
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ld_ranked AS
        SELECT *, row_number() OVER (PARTITION BY {", ".join(_q(k) for k in spec.primary_key)}
                                     ORDER BY {", ".join(order)}) AS _rank
        FROM _ld_rows"""
    )
    superseded = dict(
        conn.execute(
            "SELECT _source_file, count(*) FROM _ld_ranked WHERE _rank > 1 GROUP BY _source_file"
        ).fetchall()
    )
    for f in result.files:
        f.rows_superseded = superseded.get(f.source_file, 0)
    max_updated = "max(updated_at)" if spec.has_updated_at else "NULL::TIMESTAMP"
    result.rows_unique, result.max_updated_at = conn.execute(
        f"SELECT count(*), {max_updated} FROM _ld_ranked WHERE _rank = 1"
    ).fetchall()[0]


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


def _record_rejected_files(conn, result: LoadResult, rejected: list[FileStats]) -> None:
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


def _publish(conn, entity: str, result: LoadResult) -> None:
    """Swap in the new table and this entity's bookkeeping in one transaction."""
    spec = ENTITIES[entity]
    out_cols = ", ".join(_q(c) for c in spec.column_names + ["_source_file", "_source_line", "_extra"])
    key_order = ", ".join(_q(k) for k in spec.primary_key)
    loaded_at = dt.datetime.now(CHINA).replace(tzinfo=None)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(create_table_sql(entity))
        conn.execute(
            f"INSERT INTO raw.{entity} SELECT {out_cols} FROM _ld_ranked WHERE _rank = 1 ORDER BY {key_order}"
        )
        conn.execute("DELETE FROM raw.load_files WHERE entity = ?", [entity])
        if result.files:
            conn.executemany(
                "INSERT INTO raw.load_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _file_rows(result, result.files),
            )
        conn.execute("DELETE FROM raw.load_rejects WHERE entity = ?", [entity])
        conn.execute("INSERT INTO raw.load_rejects SELECT * FROM _ld_rejects")
        conn.execute("DELETE FROM raw.load_runs WHERE entity = ? AND load_id = ?", [entity, result.load_id])
        conn.execute(
            "INSERT INTO raw.load_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                result.load_id,
                result.as_of_date,
                entity,
                len(result.files),
                result.rows_read,
                result.rows_accepted,
                result.rows_rejected,
                result.rows_unique,
                result.max_updated_at,
                loaded_at,
            ],
        )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
