"""Load one entity's landing-zone files into raw.<entity>, atomically, with full row accounting."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.contract import DATE, ENTITIES, PERIOD, TIMESTAMP
from orchestration.raw_schema import create_raw_schema, create_table_sql

from .errors import FileRejected, LoadError
from .filescan import FileScan, file_digest, scan_file
from .headers import map_headers
from .incremental import previous_state, unchanged
from .options import RULES_VERSION, DateBounds, LoadOptions
from .parsing import lit, macros_sql, parse_sql, reason_sql, row_rule_sql
from .readiness import split_ready
from .sources import SOURCE_TABLE, SourceFile, list_files, read_source

CHINA = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST
COUNTED = ("loaded", "skipped_unchanged")  # statuses whose rows make up raw.<entity>
INCOMPLETE_LINE = (
    "末行不完整 incomplete final line: the file does not end with a line break, the record may have "
    "been cut mid-value; not loaded"
)
WORK_TABLES = (
    "_ld_rows", "_ld_rejects", "_ld_ranked", "_ld_stage", SOURCE_TABLE,
    "_ld_csv", "_ld_csv_slots", "_ld_empty",
)  # fmt: skip


@dataclass
class FileStats:
    source_file: str
    file_order: int
    file_format: str
    encoding: str | None
    status: str = "loaded"  # 'loaded' | 'skipped_unchanged' | 'waiting' | 'rejected_file'
    message: str = ""
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_superseded: int = 0
    empty_rows_skipped: int = 0  # records whose every cell is empty: not rows, not counted
    size_bytes: int | None = None
    checksum: str | None = None
    read_load_id: str | None = None  # the load that read the file (an earlier one when skipped)
    date_min_seen: dt.date | None = None  # earliest parsed date of the file (any date-like column)
    date_max_in_range: dt.date | None = None  # latest date not after the upper plausible bound
    date_min_above: dt.date | None = None  # earliest date after it (rejected as implausible)


@dataclass
class LoadResult:
    entity: str
    load_id: str
    as_of_date: dt.date
    files: list[FileStats] = field(default_factory=list)
    rows_unique: int = 0
    max_updated_at: dt.datetime | None = None
    rows_future_updated_at: int = 0
    full_reload: bool = True

    @property
    def nothing_new(self) -> bool:
        """Every file skipped as unchanged: raw.<entity> stays exactly as it is."""
        return not self.full_reload and not self.count("loaded")

    @property
    def winners(self) -> str:
        """SQL relation of the entity's rows after this load."""
        return f"raw.{self.entity}" if self.nothing_new else "(SELECT * FROM _ld_ranked WHERE _rank = 1)"

    def _sum(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files if f.status in COUNTED)

    @property
    def rows_read(self) -> int:
        return self._sum("rows_read")

    @property
    def rows_accepted(self) -> int:
        return self._sum("rows_accepted")

    @property
    def rows_rejected(self) -> int:
        return self._sum("rows_rejected")

    @property
    def rows_superseded(self) -> int:
        return self._sum("rows_superseded")

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_entity(
    conn: duckdb.DuckDBPyConnection,
    entity: str,
    raw_dir: Path,
    *,
    load_id: str,
    as_of_date: dt.date,
    options: LoadOptions | None = None,
) -> LoadResult:
    """Load the complete `<raw_dir>/<entity>/*.csv|*.xlsx` into raw.<entity> (one row per primary key).

    Files unchanged since the load that read them are skipped (status 'skipped_unchanged'), files
    not complete yet wait for the next night (status 'waiting'). Bookkeeping goes to raw.load_files,
    raw.load_rejects, raw.load_file_state, raw.load_warnings (this entity's rows replaced) and
    raw.load_runs (one row appended), all in the same transaction as the table itself. Raises
    LoadError when a required folder has no complete file or any file is rejected whole; then the
    rejected files are recorded in raw.load_files (committed) and raw.<entity> is left untouched.

    `options=None` is for callers that wrote the files themselves (tests, benchmark): contract
    defaults but no settle wait. The Dagster assets pass the landing zone's settings.
    """
    options = options or LoadOptions(settle_seconds=0)
    if entity not in ENTITIES:
        raise LoadError(f"unknown entity {entity!r}")
    _prepare(conn, options)
    result = LoadResult(entity, load_id, as_of_date)
    sources = _complete_files(Path(raw_dir), entity, options, result)
    conn.execute(create_table_sql(entity, "_ld_rows").replace("TABLE", "TEMP TABLE", 1))
    conn.execute("ALTER TABLE _ld_rows ADD COLUMN _prior BOOLEAN")
    conn.execute("CREATE OR REPLACE TEMP TABLE _ld_rejects AS SELECT * FROM raw.load_rejects WITH NO DATA")
    try:
        bounds = options.bounds(as_of_date)
        for source, scan, stats in _plan(conn, entity, sources, bounds, options, result):
            _load_file(conn, entity, source, scan, stats, bounds, options)
        result.files.sort(key=lambda f: f.file_order)
        _fail_on_rejected_files(conn, result)
        _dedup(conn, ENTITIES[entity], result)
        _publish(conn, entity, result, bounds)
    finally:
        for table in WORK_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return result


def _prepare(conn, options: LoadOptions) -> None:
    """Raw schema, parsing macros, and DuckDB's memory limit / on-disk temp storage for the load."""
    if options.memory_limit:
        conn.execute(f"SET memory_limit = {lit(options.memory_limit)}")
    if options.temp_dir:
        Path(options.temp_dir).mkdir(parents=True, exist_ok=True)
        current = conn.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
        if current != str(options.temp_dir):
            try:
                conn.execute(f"SET temp_directory = {lit(str(options.temp_dir))}")
            except duckdb.NotImplementedException:  # already spilled elsewhere on this connection
                pass
    create_raw_schema(conn)
    for stmt in macros_sql():
        conn.execute(stmt)


def _complete_files(raw_dir: Path, entity: str, options: LoadOptions, result: LoadResult) -> list[SourceFile]:
    """The entity's complete files; waiting and vanished ones are noted in the result."""
    sources = list_files(raw_dir, entity)
    ready = split_ready(sources or [], options.settle_seconds)
    for source, reason in ready.waiting:
        result.files.append(_stats(source, status="waiting", message=reason))
    for source, reason in ready.vanished:
        result.files.append(_stats(source, status="rejected_file", message=reason))
    if not ready.ready and not ready.vanished and ENTITIES[entity].required:
        folder = raw_dir / entity
        state = (
            "missing" if sources is None
            else "empty (no .csv/.xlsx files)" if not sources
            else f"without a complete file ({len(ready.waiting)} waiting)"
        )  # fmt: skip
        raise LoadError(f"{entity}: 必需的数据目录缺失或为空 required folder {folder} is {state}", result)
    return ready.ready


def _stats(source: SourceFile, **kw) -> FileStats:
    return FileStats(source.source_file, source.file_order, source.file_format, None, **kw)


def _plan(conn, entity, sources, bounds: DateBounds, options: LoadOptions, result: LoadResult):
    """Scan every complete file (checksum, encoding); skip the unchanged ones when that is exact."""
    prev = previous_state(conn, entity)
    scanned = []
    for source in sources:
        stats = _stats(source, read_load_id=result.load_id)
        result.files.append(stats)
        try:
            scan = _scan(source, stats, options, prev.get(source.source_file), bounds)
        except FileRejected as exc:
            stats.status, stats.message = "rejected_file", str(exc)
            continue
        scanned.append((source, scan, stats))
    reusable = {
        s.source_file for _, _, s in scanned if unchanged(prev.get(s.source_file), s.checksum, bounds)
    }
    result.full_reload = not prev or not set(prev) <= reusable
    if not result.full_reload:
        for _, _, stats in scanned:
            if stats.source_file in reusable:
                _reuse(stats, prev[stats.source_file])
        scanned = [item for item in scanned if item[2].source_file not in reusable]
    return [item for item in map(_scanned, scanned) if item[2].status != "rejected_file"]


def _scanned(item: tuple) -> tuple:
    """A CSV checked by checksum only must be scanned in full before it is read."""
    source, scan, stats = item
    if scan is None and source.file_format == "csv":
        try:
            scan = scan_file(source.path)
        except FileRejected as exc:
            stats.status, stats.message = "rejected_file", str(exc)
        else:
            stats.encoding, stats.checksum, stats.size_bytes = scan.encoding, scan.sha256, scan.size
    return source, scan, stats


def _scan(source: SourceFile, stats: FileStats, options, prev: dict | None, bounds) -> FileScan | None:
    """Checksum only for a file that may be unchanged (same size as before), else the full scan."""
    if prev is not None and prev["size_bytes"] == _size(source):
        stats.size_bytes, stats.checksum = file_digest(source.path, options.chunk_bytes)
        if unchanged(prev, stats.checksum, bounds):
            return None
    if source.file_format == "xlsx":
        stats.size_bytes, stats.checksum = file_digest(source.path, options.chunk_bytes)
        return None
    scan = scan_file(source.path, options.chunk_bytes)
    stats.size_bytes, stats.checksum, stats.encoding = scan.size, scan.sha256, scan.encoding
    return scan


def _size(source: SourceFile) -> int | None:
    try:
        return source.path.stat().st_size
    except FileNotFoundError:
        return None


def _reuse(stats: FileStats, prev: dict) -> None:
    stats.status = "skipped_unchanged"
    for name in ("read_load_id", "rows_read", "rows_accepted", "rows_rejected", "rows_superseded",
                 "encoding", "date_min_seen", "date_max_in_range", "date_min_above"):  # fmt: skip
        setattr(stats, name, prev[name])
    note = f"未变化，沿用 unchanged since load {prev['read_load_id']}, not read again"
    stats.message = "; ".join(m for m in (note, prev["message"]) if m)


def _load_file(conn, entity, source, scan, stats: FileStats, bounds: DateBounds, options) -> None:
    try:
        info = read_source(conn, source, scan, options)
        stats.encoding = info.encoding or stats.encoding
        header_map = map_headers(entity, info.headers)
    except FileRejected as exc:
        stats.status, stats.message = "rejected_file", str(exc)
        return
    _stage_file(conn, entity, header_map, bounds)
    read, accepted, rejected, total = conn.execute(
        "SELECT count(*) FILTER (NOT _empty), count(*) FILTER (NOT _empty AND _reason IS NULL), "
        "count(*) FILTER (NOT _empty AND _reason IS NOT NULL), count(*) FROM _ld_stage"
    ).fetchall()[0]
    assert read == accepted + rejected, f"{source.source_file}: {read} != {accepted} + {rejected}"
    stats.rows_read, stats.rows_accepted, stats.rows_rejected = read, accepted, rejected
    stats.empty_rows_skipped = total - read
    notes = [info.note] if info.note else []
    if info.copy is not None and info.copy.tail is not None:
        notes.append(_reject_tail(conn, entity, source, header_map.keys, info.copy, stats))
    if stats.empty_rows_skipped:
        notes.append(f"跳过空行 skipped {stats.empty_rows_skipped} empty record(s)")
    stats.message = "; ".join(n for n in notes if n)
    stats.date_min_seen, stats.date_max_in_range, stats.date_min_above = _dates_seen(conn, entity, bounds)
    _keep_rows(conn, entity, source.source_file, stats.read_load_id)


def _keep_rows(conn, entity: str, source_file: str, load_id: str) -> None:
    cols = ", ".join(_q(c) for c in ENTITIES[entity].column_names)
    src = lit(source_file)
    conn.execute(
        f"INSERT INTO _ld_rows SELECT {cols}, {src}, _line, _extra, false FROM _ld_stage "
        "WHERE NOT _empty AND _reason IS NULL"
    )
    conn.execute(
        f"INSERT INTO _ld_rejects SELECT {lit(load_id)}, {lit(entity)}, {src}, _line, _reason, raw_record "
        "FROM _ld_stage WHERE NOT _empty AND _reason IS NOT NULL ORDER BY _line"
    )


def _reject_tail(conn, entity, source: SourceFile, keys: list[str], copy, stats: FileStats) -> str:
    """The held-back final line: a reject row (never silently dropped), unless it is an empty record."""
    cells = next(csv.reader([copy.tail]), [])
    if not any(c.strip() for c in cells):
        stats.empty_rows_skipped += 1
        return ""
    record = {(keys[i] if i < len(keys) else f"_col{i + 1}"): c for i, c in enumerate(cells)}
    conn.execute(
        "INSERT INTO _ld_rejects VALUES (?, ?, ?, ?, ?, ?::JSON)",
        [stats.read_load_id, entity, source.source_file, copy.tail_line, INCOMPLETE_LINE,
         json.dumps(record, ensure_ascii=False)],
    )  # fmt: skip
    stats.rows_read += 1
    stats.rows_rejected += 1
    return f"末行不完整 incomplete final line {copy.tail_line} rejected"


def _dates_seen(conn, entity: str, bounds: DateBounds) -> tuple:
    """Earliest date, latest date within the upper bound, earliest beyond it (rejected rows included)."""
    as_date = {DATE: "{}", TIMESTAMP: "{}::DATE", PERIOD: "({} || '-01')::DATE"}
    exprs = [as_date[c.type].format(_q(c.name)) for c in ENTITIES[entity].columns if c.type in as_date]
    if not exprs:
        return None, None, None
    upper = f"DATE '{bounds.upper.isoformat()}'"
    return conn.execute(
        f"""SELECT min(d), max(d) FILTER (WHERE d <= {upper}), min(d) FILTER (WHERE d > {upper})
        FROM (SELECT unnest([{", ".join(exprs)}]) AS d FROM _ld_stage WHERE NOT _empty)"""
    ).fetchall()[0]


def _stage_file(conn, entity: str, hm, bounds: DateBounds) -> None:
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
    reasons = [reason_sql(c, v(c.name), p(c.name), bounds) for c in spec.columns]
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


def _fail_on_rejected_files(conn, result: LoadResult) -> None:
    rejected = [f for f in result.files if f.status == "rejected_file"]
    if rejected:
        _record_rejected_files(conn, result, rejected)
        details = "; ".join(f"{f.source_file}: {f.message}" for f in rejected)
        message = f"{result.entity}: 文件被拒收，本次未加载 file(s) rejected, load aborted — {details}"
        raise LoadError(message, result)


def _dedup(conn, spec, result: LoadResult) -> None:
    """Rank versions of each key: greatest updated_at, then later file (name), then later line wins.

    Without a full reload, the previous winners of the skipped files take part as `_prior` rows;
    with nothing new at all, the raw table is kept and only counted.
    """
    max_updated = "max(updated_at)" if spec.has_updated_at else "NULL::TIMESTAMP"
    if result.nothing_new:
        result.rows_unique, result.max_updated_at = conn.execute(
            f"SELECT count(*), {max_updated} FROM raw.{spec.name}"
        ).fetchall()[0]
        return
    if not result.full_reload:
        cols = ", ".join(_q(c) for c in spec.column_names + ["_source_file", "_source_line", "_extra"])
        conn.execute(f"INSERT INTO _ld_rows SELECT {cols}, true FROM raw.{spec.name}")
    order = ([_q("updated_at") + " DESC"] if spec.has_updated_at else []) + [
        "_source_file DESC",
        "_source_line DESC",
    ]
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ld_ranked AS
        SELECT *, row_number() OVER (PARTITION BY {", ".join(_q(k) for k in spec.primary_key)}
                                     ORDER BY {", ".join(order)}) AS _rank
        FROM _ld_rows"""
    )
    losers = conn.execute(
        "SELECT _source_file, count(*) FROM _ld_ranked WHERE _rank > 1 GROUP BY _source_file"
    ).fetchall()
    for f in result.files:
        new = dict(losers).get(f.source_file, 0)
        f.rows_superseded = (f.rows_superseded + new) if f.status == "skipped_unchanged" else new
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


def _publish(conn, entity: str, result: LoadResult, bounds: DateBounds) -> None:
    """Swap in the new table and this entity's bookkeeping in one transaction."""
    spec = ENTITIES[entity]
    out_cols = ", ".join(_q(c) for c in spec.column_names + ["_source_file", "_source_line", "_extra"])
    key_order = ", ".join(_q(k) for k in spec.primary_key)
    kept = [f.source_file for f in result.files if f.status == "skipped_unchanged"]
    conn.execute("BEGIN TRANSACTION")
    try:
        if not result.nothing_new:
            conn.execute(create_table_sql(entity))
            conn.execute(
                f"INSERT INTO raw.{entity} SELECT {out_cols} FROM {result.winners} ORDER BY {key_order}"
            )
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


def _write_file_state(conn, result: LoadResult, bounds: DateBounds) -> None:
    conn.execute("DELETE FROM raw.load_file_state WHERE entity = ?", [result.entity])
    rows = [
        (result.entity, f.source_file, f.size_bytes, f.checksum, f.read_load_id, RULES_VERSION,
         bounds.lower, bounds.upper, f.date_min_seen, f.date_max_in_range, f.date_min_above, f.rows_read,
         f.rows_accepted, f.rows_rejected, f.rows_superseded, f.file_format, f.encoding, _own_message(f))
        for f in result.files if f.status in COUNTED
    ]  # fmt: skip
    if rows:
        conn.executemany(f"INSERT INTO raw.load_file_state VALUES ({', '.join('?' * 18)})", rows)


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
    key = " || '|' || ".join(f"coalesce({_q(k)}::VARCHAR, '')" for k in spec.primary_key)
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
