"""Load one entity's landing-zone files into raw.<entity>, atomically, with full row accounting."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from orchestration.contract import ENTITIES
from orchestration.raw_schema import create_raw_schema, create_table_sql

from .bookkeeping import publish, record_rejected_files
from .errors import FileRejected, LoadError
from .filescan import FileScan, file_digest, not_a_file, scan_file
from .headers import map_headers
from .incremental import previous_state, stat_file, unchanged, unchanged_by_stat
from .options import DateBounds, LoadOptions
from .parsing import lit, macros_sql
from .readiness import split_ready
from .results import FileStats, LoadResult
from .sources import SOURCE_TABLE, SourceFile, list_files, read_source
from .staging import (
    dates_seen,
    keep_rejects,
    kept_rows_sql,
    quote_ident,
    raw_columns,
    reject_tail,
    same_key,
    stage_file,
)

READ_TABLES = (SOURCE_TABLE, "_ld_csv", "_ld_csv_slots", "_ld_empty")  # one file's cells, dropped once staged
WORK_TABLES = ("_ld_prior", "_ld_kept", "_ld_rejects", "_ld_losers", "_ld_touched", *READ_TABLES)
WORK_VIEWS = ("_ld_winners", "_ld_rows")


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
    # _ld_prior: a merge's previous winners of the new rows' keys; _ld_rows: a view of them and every
    # staged file's accepted rows, read where they are (never copied into one table)
    conn.execute(create_table_sql(entity, "_ld_prior").replace("TABLE", "TEMP TABLE", 1))
    conn.execute("ALTER TABLE _ld_prior ADD COLUMN _prior BOOLEAN")
    conn.execute("CREATE OR REPLACE TEMP TABLE _ld_rejects AS SELECT * FROM raw.load_rejects WITH NO DATA")
    stages: list[str] = []
    try:
        bounds = options.bounds(as_of_date)
        parts = ["SELECT * FROM _ld_prior"]
        for source, scan, stats in _plan(conn, entity, sources, bounds, options, result):
            stages.append(f"_ld_stage_{source.file_order}")
            parts.append(_load_file(conn, entity, source, scan, stats, bounds, options, stages[-1]))
        _rows_view(conn, [p for p in parts if p], stages)
        result.files.sort(key=lambda f: f.file_order)
        _fail_on_rejected_files(conn, result)
        _dedup(conn, ENTITIES[entity], result)
        publish(conn, entity, result, bounds)
    finally:
        for view in WORK_VIEWS:
            conn.execute(f"DROP VIEW IF EXISTS {view}")
        for table in (*WORK_TABLES, *stages):
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
    for source, reason in [(s, not_a_file(s.path)) for s in sources or []]:
        if reason:  # a directory, broken link or FIFO where a file is expected: never opened
            result.files.append(_stats(source, status="rejected_file", message=reason))
            sources.remove(source)
    ready = split_ready(sources or [], options.settle_seconds)
    for source, reason in ready.waiting:
        result.files.append(_stats(source, status="waiting", message=reason))
    for source, reason in ready.vanished:
        result.files.append(_stats(source, status="rejected_file", message=reason))
    rejected = any(f.status == "rejected_file" for f in result.files)
    if not ready.ready and not rejected and ENTITIES[entity].required:
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
    """Scan every complete file (checksum, encoding) but those unchanged by stat; skip the unchanged
    ones when that is exact."""
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
    """Nothing for a file whose stat is the one recorded when it was read (skipped unread); the
    checksum only for one that may be unchanged (same size as before); else the full scan. The stat
    is taken before any read, and recorded only when settled (incremental.py)."""
    seen = stat_file(source.path)
    if unchanged_by_stat(prev, seen, bounds):
        stats.size_bytes, stats.checksum, stats.file_stat = prev["size_bytes"], prev["checksum"], seen.key
        return None
    stats.file_stat = seen.key if seen is not None and seen.settled else None
    if prev is not None and seen is not None and prev["size_bytes"] == seen.size:
        stats.size_bytes, stats.checksum = file_digest(source.path, options.chunk_bytes)
        if unchanged(prev, stats.checksum, bounds):
            return None
    if source.file_format == "xlsx":
        stats.size_bytes, stats.checksum = file_digest(source.path, options.chunk_bytes)
        return None
    scan = scan_file(source.path, options.chunk_bytes)
    stats.size_bytes, stats.checksum, stats.encoding = scan.size, scan.sha256, scan.encoding
    return scan


def _reuse(stats: FileStats, prev: dict) -> None:
    stats.status = "skipped_unchanged"
    for name in ("read_load_id", "rows_read", "rows_accepted", "rows_rejected", "rows_superseded",
                 "encoding", "date_min_seen", "date_max_in_range", "date_min_above"):  # fmt: skip
        setattr(stats, name, prev[name])
    note = f"未变化，沿用 unchanged since load {prev['read_load_id']}, not read again"
    stats.message = "; ".join(m for m in (note, prev["message"]) if m)


def _load_file(conn, entity, source, scan, stats: FileStats, bounds: DateBounds, options, stage: str):
    """Read and stage one file into the temp table `stage`; the SQL of its accepted rows (None when
    the file is rejected whole)."""
    try:
        info = read_source(conn, source, scan, options)
        stats.encoding = info.encoding or stats.encoding
        header_map = map_headers(entity, info.headers)
    except FileRejected as exc:
        stats.status, stats.message = "rejected_file", str(exc)
        return None
    stage_file(conn, entity, header_map, bounds, stage, info.relation)
    for table in READ_TABLES:  # the cells are staged: free their memory before the next file
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    read, accepted, rejected, total = conn.execute(
        "SELECT count(*) FILTER (NOT _empty), count(*) FILTER (NOT _empty AND _reason IS NULL), "
        f"count(*) FILTER (NOT _empty AND _reason IS NOT NULL), count(*) FROM {stage}"
    ).fetchall()[0]
    assert read == accepted + rejected, f"{source.source_file}: {read} != {accepted} + {rejected}"
    stats.rows_read, stats.rows_accepted, stats.rows_rejected = read, accepted, rejected
    stats.empty_rows_skipped = total - read
    notes = [info.note] if info.note else []
    if info.copy is not None and info.copy.tail is not None:
        notes.append(reject_tail(conn, entity, source, header_map.keys, info.copy, stats))
    if stats.empty_rows_skipped:
        notes.append(f"跳过空行 skipped {stats.empty_rows_skipped} empty record(s)")
    stats.message = "; ".join(n for n in notes if n)
    dates = dates_seen(conn, entity, bounds, stage)
    stats.date_min_seen, stats.date_max_in_range, stats.date_min_above = dates
    keep_rejects(conn, entity, source.source_file, stats.read_load_id, stage)
    return kept_rows_sql(entity, source.source_file, stage)


def _rows_view(conn, parts: list[str], stages: list[str]) -> None:
    """View `_ld_rows` over `parts`. One file's accepted rows are read in place; several files' are
    copied into one table first and their stage tables dropped (a sorted insert over a union of
    several large temp tables ran out of memory at 100,000 clients)."""
    if len(parts) > 2:
        conn.execute("CREATE OR REPLACE TEMP TABLE _ld_kept AS " + " UNION ALL ".join(parts[1:]))
        for table in stages:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        parts = [parts[0], "SELECT * FROM _ld_kept"]
    conn.execute("CREATE OR REPLACE TEMP VIEW _ld_rows AS " + " UNION ALL ".join(parts))


def _fail_on_rejected_files(conn, result: LoadResult) -> None:
    rejected = [f for f in result.files if f.status == "rejected_file"]
    if rejected:
        record_rejected_files(conn, result, rejected)
        details = "; ".join(f"{f.source_file}: {f.message}" for f in rejected)
        message = f"{result.entity}: 文件被拒收，本次未加载 file(s) rejected, load aborted — {details}"
        raise LoadError(message, result)


def _dedup(conn, spec, result: LoadResult) -> None:
    """Rank versions of each key: greatest updated_at, then later file (name), then later line wins.

    Only keys with more than one version are ranked, on the ranking columns alone: the losers
    (file, line; unique within a load) go to `_ld_losers` and the winners are `_ld_rows` without
    them (view `_ld_winners`), read in place by the write. Without a full reload, only keys of the
    new files' rows can change: their previous winners (rows of the skipped files) take part as
    `_prior` rows, every other key keeps its winner (ranked alone, it would win again); with
    nothing new at all, the raw table is kept and only counted.
    """
    max_updated = "max(updated_at)" if spec.has_updated_at else "NULL::TIMESTAMP"
    if result.nothing_new:
        result.rows_unique, result.max_updated_at = conn.execute(
            f"SELECT count(*), {max_updated} FROM raw.{spec.name}"
        ).fetchall()[0]
        return
    keys = ", ".join(quote_ident(k) for k in spec.primary_key)
    if result.merge:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE _ld_touched AS SELECT DISTINCT {keys} FROM _ld_rows")
        conn.execute(
            f"INSERT INTO _ld_prior SELECT {raw_columns(spec)}, true FROM raw.{spec.name} AS r "
            f"SEMI JOIN _ld_touched AS t ON {same_key(spec, 'r', 't')}"
        )
    order = ([quote_ident("updated_at") + " DESC"] if spec.has_updated_at else []) + [
        "_source_file DESC",
        "_source_line DESC",
    ]
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ld_losers AS
        SELECT _source_file, _source_line FROM (
            SELECT _source_file, _source_line,
                   row_number() OVER (PARTITION BY {keys} ORDER BY {", ".join(order)}) AS _rank
            FROM _ld_rows AS r
            SEMI JOIN (SELECT {keys} FROM _ld_rows GROUP BY ALL HAVING count(*) > 1) AS d
                   ON {same_key(spec, "r", "d")}
        ) WHERE _rank > 1"""
    )
    losers = dict(conn.execute("SELECT _source_file, count(*) FROM _ld_losers GROUP BY ALL").fetchall())
    anti = (
        " AS r ANTI JOIN _ld_losers AS l"
        " ON r._source_file = l._source_file AND r._source_line = l._source_line"
        if losers
        else ""  # no key repeats (the usual full export): every accepted row wins, no join
    )
    conn.execute(f"CREATE OR REPLACE TEMP VIEW _ld_winners AS SELECT * FROM _ld_rows{anti}")
    for f in result.files:
        new = losers.get(f.source_file, 0)
        f.rows_superseded = (f.rows_superseded + new) if f.status == "skipped_unchanged" else new
    # the winners' count and latest update: every row's (a key's winner has its greatest updated_at)
    n, max_updated_at = conn.execute(f"SELECT count(*), {max_updated} FROM _ld_rows").fetchall()[0]
    counted = [(n - sum(losers.values()), max_updated_at)]
    if result.merge:  # + the untouched keys' winners, kept in place
        counted += conn.execute(
            f"SELECT count(*), {max_updated} FROM raw.{spec.name} AS r "
            f"ANTI JOIN _ld_touched AS t ON {same_key(spec, 'r', 't')}"
        ).fetchall()
    result.rows_unique = sum(n for n, _ in counted)
    result.max_updated_at = max((m for _, m in counted if m is not None), default=None)
