"""Build the published snapshot: a new DuckDB file with the public tables, masked, plus Parquet copies.

The snapshot is written in DuckDB's v1.0.0 storage format (`storage_compatibility_version`), so every
DuckDB 1.x client (Evidence's driver, DBeaver, BI tools) opens it, whatever DuckDB built it. Tables and
columns carry the dbt yml descriptions as comments (COMMENT ON), so BI users see the glossary.

Cost at scale: the connection has a memory limit (spilling to a temp folder beyond it). Each table's
source is fingerprinted first (fingerprint.py, with this code's recipe hashed in); when the previous
version published the same source (`reuse`), its Parquet file is hard-linked instead of written and
the snapshot table is filled from it instead of being masked again, then checked to be exactly the
table published before (its fingerprint); anything else is built from the source.

Patching (docs/publication.md, "Patching the previous snapshot"): when the previous version's
snapshot file is given (`previous_snapshot`), the new file starts as a real copy of it (never a link:
the previous version keeps its file untouched) and each changed table is patched instead of
rewritten: the masked source's rows are hashed and counted, compared with the copied table's, the
rows whose count differs are deleted and the masked source's rows with those hashes inserted, and the
patched table must then have the masked source's fingerprint (computed from the same hashes) or it is
built whole. A table whose columns changed, one with too many changed rows, a previous file that does
not open, or a file grown past `MAX_GROWTH` times the fresh build it descends from: built fresh.

Kept state (docs/publication.md, "The patch's private state"): with `state` the builder also keeps,
per patched table, each SOURCE row's hash with its masked row's hash and count, in a DuckDB file of
its own that is never published (hashes of unmasked rows would let anyone who knows the masked row
try the few missing digits of a phone number). The next night diffs tonight's source-row hashes
against it set-based and masks only the source rows whose hash or count changed; the patched table
must still carry the fingerprint computed from the state plus those rows, checked by a hash pass of
the patched table. The rows a patch inserts are scanned for personal data right there (the scanner's
own patterns, `scanner.scan_relation`), so the publication's scan need not read the table again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.publish import masking
from orchestration.publish.fingerprint import digest, fingerprint
from orchestration.publish.masking import install_macros, is_internal_column, masked_select, quote
from orchestration.publish.scanner import scan_relation

DEFAULT_SCHEMAS = ("marts",)
# Load bookkeeping for the data-quality pages and BI (rejects are masked by pattern like any text).
DEFAULT_TABLES = ("raw.load_files", "raw.load_rejects", "raw.load_runs")
SOURCE_ALIAS = "warehouse_src"
STORAGE_COMPATIBILITY = "v1.0.0"  # readable by DuckDB >= 1.0 (storage version number 64)
DEFAULT_MEMORY_LIMIT = "2GB"  # settings.publish_memory_limit's default
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd"
# Parquet in parts (docs/publication.md, "Parquet in parts"): every table is a folder
# `parquet/<schema>.<table>/`; a table of at least PARTS_MIN_ROWS rows with a month column is one file
# per month of that column (`2026-11.parquet`, `other.parquet` for no month), any other table one
# file `all.parquet`. A night rewrites only the parts whose rows changed and hard-links the others.
PARTS_MIN_ROWS = 200_000
# the month column a large table is split by: the first of these it has (a row keeps its month for
# life: a task's period, a payment's month, a staff period's start). Not an invoice's issue month:
# fct_invoices' day counts move every night for every open invoice, whatever its month (46 of 47
# months touched a night at 10k), so in parts it would cost more than its one file.
PART_COLUMNS = ("period", "paid_period", "period_start", "paid_date")
WHOLE_PART = "all"  # the one part of a table not split by month
OTHER_PART = "other"  # rows of a split table whose month column holds no month
# A source table of at least this many rows has its text columns tested over their distinct values
# first; masking copies the ones holding no number as they are (`_clean_text_columns`).
CLEAN_PREPASS_MIN_ROWS = 100_000
# A patched file may grow (deleted rows leave holes DuckDB reuses only partly): past this many times
# the size of the fresh build it descends from, the night builds fresh again.
MAX_GROWTH = 1.3
# A table with more changed rows (deleted + inserted) than this share of its rows is rebuilt whole.
PATCH_MAX_SHARE = 0.2
# A table published in months is patched in its changed months only when they hold at most this
# share of its rows (`_SourceMonths.worth_it`); else whole.
MONTHS_MAX_SHARE = 0.5
# Tables are published by this many threads at once, each on its own cursor of the snapshot's
# database (`_in_workers`; docs/publication.md, "Two tables at a time"). The output does not depend on it.
WORKERS = 2
ROW_HASH = "__snapshot_source_row_hash"  # helper column of the patch's queries, never stored
MASKED_HASH = "__snapshot_masked_row_hash"  # another helper column, never stored in the snapshot
SOURCE_ROWID = "__snapshot_source_rowid"  # and another
STATE_ALIAS = "snapshot_state"  # the private state file, attached while the snapshot is built
STATE_TABLES = "published_tables"  # per table: the recipe, rows and hash sum the state describes
STATE_MONTHS = "source_months"  # per table and month: rows and hash sum of its source (`_source_sums`)

# (schema, table) -> (table description, {column: description})
Descriptions = dict[tuple[str, str], tuple[str, dict[str, str]]]
IDENTITY_META = "publish_identity"  # a dbt model's meta key declaring its rows' input fingerprints


@dataclass(frozen=True)
class Identity:
    """Where a published table's rows have their input fingerprints (docs/publication.md, "Months
    known unchanged by their input fingerprints"), declared by its dbt model (meta `publish_identity`):
    the model is incremental by fingerprint, so each row is computed from, and only from, what its
    fingerprint hashes (dbt's incremental build relies on the same, and is tested to equal a full
    build). `column`: the fingerprint column, in the table itself (an internal column, not published)
    or, with `table` (`schema.table` in the warehouse), in the table of the fingerprints its rows were
    built for, joined on `key` (a column of both). A month whose rows' fingerprints sum as they did
    for the source the copied month was masked from holds the same rows: it is not read."""

    column: str
    table: str = ""
    key: str = ""

    def salt(self, salt: str) -> str:
        """The recipe of sums taken over the fingerprints: never equal to one over the rows."""
        return f"{salt}|identity:{self.table}:{self.key}:{self.column}"


Identities = dict[str, Identity]  # "schema.table" -> its rows' fingerprints


@dataclass
class PublishedTable:
    schema: str
    table: str
    rows: int
    columns: list[dict]
    masked_by_name: list[str]
    masked_by_pattern: list[str]
    parquet: str = ""  # the glob of its part files, relative to the version: parquet/<name>/*.parquet
    parts_by: str = ""  # the month column the table is split by ("": one part, `all`)
    parts: list[dict] = field(default_factory=list)  # [{file, part, rows, sum, fingerprint, reused}]
    source_fingerprint: str = ""  # the source table's content + the code that publishes it
    fingerprint: str = ""  # the published (masked) table's content
    reused: bool = False  # every part hard-linked from the previous version, table filled from them
    patched: dict | None = None  # {"deleted": n, "inserted": n, "masked": n} when patched in the copy
    # personal-data findings of the rows this night added to a table copied from a version scanned
    # clean ([] for a table equal to that version's); None: not known, the publication scans it
    new_rows_findings: list[str] | None = None

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass
class Snapshot:
    tables: list[PublishedTable] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    patched_from: str = ""  # the previous snapshot file this one started as a copy of ("" = fresh)
    base_bytes: int = 0  # size of the fresh build this file descends from (the growth bound's base)


@dataclass(frozen=True)
class PreviousSnapshot:
    """The previous version's snapshot file (sealed, verified) and the size of the fresh build it
    descends from (0: unknown, its own size)."""

    path: Path
    base_bytes: int = 0


@dataclass(frozen=True)
class StateFiles:
    """The private state file to write (`path`) and the previous version's to start from (`previous`,
    used only when the snapshot is patched from that version): docs/publication.md."""

    path: Path
    previous: Path | None = None


@dataclass(frozen=True)
class ReusablePart:
    """One sealed, verified Parquet part of the previous version: its file and what it holds (`rows`,
    `total` = the sum of its row hashes, `fingerprint` = digest of both with the columns and recipe)."""

    path: Path
    rows: int
    total: int | None
    fingerprint: str


@dataclass(frozen=True)
class Reusable:
    """A table the previous version published: from which source, as what, and its sealed Parquet
    parts (`parts`: part key -> the verified ones; `complete`: every part of it is verified)."""

    source_fingerprint: str
    fingerprint: str
    parts: dict[str, ReusablePart]
    complete: bool = True

    @property
    def files(self) -> list[Path]:
        return [p.path for p in self.parts.values()]


def recipe() -> str:
    """What turns a source table into its published table and Parquet file: this module, the masking
    module, DuckDB's version and the storage/Parquet options. Part of every source fingerprint, so a
    change to any of them republishes every table."""
    h = hashlib.sha256()
    for module in (Path(__file__), Path(masking.__file__)):
        h.update(module.read_bytes())
    h.update(f"{duckdb.__version__}|{STORAGE_COMPATIBILITY}|{PARQUET_OPTIONS}".encode())
    return h.hexdigest()[:16]


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _source_tables(
    con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...], tables: tuple[str, ...]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Tables and views to publish: all of `schemas`, plus the listed `schema.table`s that exist."""
    present = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ? "
        "ORDER BY 1, 2",
        [SOURCE_ALIAS],
    ).fetchall()
    chosen = [(s, t) for s, t in present if s in schemas]
    missing = []
    for qualified in tables:
        schema, _, table = qualified.partition(".")
        if (schema, table) in present:
            if (schema, table) not in chosen:
                chosen.append((schema, table))
        else:
            missing.append(qualified)
    return chosen, missing


@functools.lru_cache(maxsize=1)
def _dbt_manifest(path: Path, mtime_ns: int) -> dict:  # noqa: ARG001 - part of the cache key
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _read_dbt_manifest(manifest_path: Path) -> dict:
    """dbt's manifest.json, parsed once for the descriptions and the identities of a night (cached
    by path and modification time; {} when it cannot be read). Read only: callers must not change it."""
    path = Path(manifest_path)
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        return {}
    return _dbt_manifest(path, mtime_ns)


def dbt_descriptions(manifest_path: Path) -> Descriptions:
    """Table and column descriptions of every dbt model and source, from dbt's manifest.json."""
    manifest = _read_dbt_manifest(manifest_path)
    out: Descriptions = {}
    for node in [*manifest.get("nodes", {}).values(), *manifest.get("sources", {}).values()]:
        if node.get("resource_type") not in ("model", "seed", "snapshot", "source"):
            continue
        table = node.get("alias") or node.get("identifier") or node.get("name")
        columns = {c: (m.get("description") or "") for c, m in (node.get("columns") or {}).items()}
        out[(node.get("schema", ""), table)] = (node.get("description") or "", columns)
    return out


def dbt_identities(manifest_path: Path) -> Identities:
    """The `Identity` each dbt model declares in its meta (`publish_identity: {column, table, key}`),
    by `schema.table` as built, from dbt's manifest.json; a malformed declaration is left out."""
    manifest = _read_dbt_manifest(manifest_path)
    out: Identities = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model":
            continue
        meta = {**(node.get("config") or {}).get("meta", {}), **(node.get("meta") or {})}
        declared = meta.get(IDENTITY_META)
        if not isinstance(declared, dict) or not isinstance(declared.get("column"), str):
            continue
        table, key = str(declared.get("table") or ""), str(declared.get("key") or "")
        if bool(table) != bool(key):
            continue
        name = f"{node.get('schema', '')}.{node.get('alias') or node.get('name')}"
        out[name] = Identity(declared["column"], table, key)
    return out


def _comment(
    con: duckdb.DuckDBPyConnection, chosen: list[tuple[str, str]], descriptions: Descriptions
) -> None:
    """Set each chosen table's and its columns' comments to its `descriptions` entry (no text: no
    comment), touching only what differs: a fresh table has none, a patched one keeps last night's
    where they still hold. One catalog read for all tables, all statements in one transaction (each
    auto-committed COMMENT and each catalog function call costs as much as a small table's copy)."""
    here = "WHERE database_name = current_database()"
    current = {
        (s, t): c
        for s, t, c in con.execute(
            f"SELECT schema_name, table_name, comment FROM duckdb_tables() {here}"
        ).fetchall()
    }
    columns_of: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    sql = f"SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() {here}"
    for schema, table, column, comment in con.execute(sql).fetchall():
        columns_of.setdefault((schema, table), []).append((column, comment))
    statements = []
    for schema, table in chosen:
        table_text, columns = descriptions.get((schema, table)) or ("", {})
        dest = f"{quote(schema)}.{quote(table)}"
        if (current[schema, table] or "") != table_text:
            statements.append(f"COMMENT ON TABLE {dest} IS {_sql_str(table_text) if table_text else 'NULL'}")
        for column, comment in columns_of.get((schema, table), []):
            text = columns.get(column) or ""
            if (comment or "") != text:
                value = _sql_str(text) if text else "NULL"
                statements.append(f"COMMENT ON COLUMN {dest}.{quote(column)} IS {value}")
    if statements:
        con.execute("BEGIN TRANSACTION")
        for statement in statements:
            con.execute(statement)
        con.execute("COMMIT")


def build_snapshot(
    warehouse: Path,
    snapshot_path: Path,
    parquet_dir: Path,
    *,
    schemas: tuple[str, ...] = DEFAULT_SCHEMAS,
    tables: tuple[str, ...] = DEFAULT_TABLES,
    descriptions: Descriptions | None = None,
    reuse: dict[str, Reusable] | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    temp_directory: Path | None = None,
    previous_snapshot: PreviousSnapshot | None = None,
    state: StateFiles | None = None,
    workers: int | None = None,
    identities: Identities | None = None,
) -> Snapshot:
    """Copy the public tables from `warehouse` (attached read-only) into `snapshot_path`, masked on
    the way, export each to `parquet_dir/<schema>.<table>/<part>.parquet`, checkpoint and close.
    `reuse` maps `schema.table` to what the previous version published (see the module doc);
    `previous_snapshot`: that version's file, patched in a copy instead of building a fresh file
    (any failure of the patch: built fresh). DuckDB keeps to `memory_limit` and spills to
    `temp_directory` (default: its own, beside the file). `state`: the private state file to keep
    (and last night's, read when patching), so a patched table masks only its changed rows.
    `workers`: tables published at once (default WORKERS; the output is the same). `identities`:
    the tables whose rows' input fingerprints tell which months changed (`Identity`; used with
    `state` only, where last night's sums of them are kept)."""
    if snapshot_path.exists():
        raise FileExistsError(snapshot_path)
    args = (
        warehouse,
        snapshot_path,
        parquet_dir,
        tuple(schemas),
        tuple(tables),
        descriptions or {},
        reuse or {},
        identities or {},
    )
    workers = WORKERS if workers is None else workers
    config = {"storage_compatibility_version": STORAGE_COMPATIBILITY, "memory_limit": memory_limit}
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    base = _patch_base(previous_snapshot)
    if base:
        try:
            snapshot_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(previous_snapshot.path, snapshot_path)  # a real copy: the old file stays as it is
            return _build(
                *args,
                config,
                patch_base=base,
                patched_from=previous_snapshot.path,
                state=state,
                workers=workers,
            )
        except (duckdb.Error, OSError):  # e.g. a corrupt previous file: built fresh below
            for leftover in (snapshot_path, snapshot_path.with_name(snapshot_path.name + ".wal")):
                leftover.unlink(missing_ok=True)
            shutil.rmtree(parquet_dir, ignore_errors=True)
    return _build(*args, config, state=state and StateFiles(state.path), workers=workers)


def _patch_base(previous: PreviousSnapshot | None) -> int:
    """The base size to patch `previous` against, or 0 when it is not to be patched: missing, or
    grown past MAX_GROWTH times the fresh build it descends from."""
    if previous is None or not previous.path.is_file():
        return 0
    size = previous.path.stat().st_size
    base = previous.base_bytes or size
    return base if size <= MAX_GROWTH * base else 0


def _build(
    warehouse: Path,
    snapshot_path: Path,
    parquet_dir: Path,
    schemas: tuple[str, ...],
    tables: tuple[str, ...],
    descriptions: Descriptions,
    reuse: dict[str, Reusable],
    identities: Identities,
    config: dict,
    *,
    patch_base: int = 0,
    patched_from: Path | None = None,
    state: StateFiles | None = None,
    workers: int = 1,
) -> Snapshot:
    """One build: into a new file, or (`patch_base`) into the copy of the previous snapshot already
    at `snapshot_path`, whose tables are patched, kept or dropped to hold exactly what a fresh build
    would."""
    parquet_dir.mkdir(parents=True, exist_ok=True)
    snap = Snapshot(patched_from=str(patched_from or ""))
    con = duckdb.connect(str(snapshot_path), config=config)
    try:
        in_copy = set()
        if patch_base:
            sql = (
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"
            )
            in_copy = set(con.execute(sql).fetchall())
        con.execute(f"ATTACH {_sql_str(str(warehouse))} AS {SOURCE_ALIAS} (READ_ONLY)")
        if state is not None:
            try:
                _open_state(con, state.path, state.previous if patch_base else None)
            except (duckdb.Error, OSError):  # e.g. a read-only folder: patched as without state
                state = None
        install_macros(con)
        chosen, snap.missing_tables = _source_tables(con, schemas, tables)
        if not any(s in schemas for s, _ in chosen):
            raise ValueError(f"nothing to publish: no table in schema(s) {', '.join(schemas)} of {warehouse}")
        _drop_unpublished(con, in_copy, chosen)
        for schema in sorted({s for s, _ in chosen}):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        salt = recipe()

        def publish(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> PublishedTable:
            parquet = parquet_dir / f"{schema}.{table}"  # the table's folder of part files
            previous = reuse.get(f"{schema}.{table}")
            published = _publish_table(
                cur,
                schema,
                table,
                parquet,
                salt,
                previous,
                (schema, table) in in_copy,
                state is not None,
                identities.get(f"{schema}.{table}"),
            )
            published.parquet = f"{parquet_dir.name}/{parquet.name}/*.parquet"
            for part in published.parts:
                part["file"] = f"{parquet_dir.name}/{parquet.name}/{part['file']}"
            return published

        snap.tables = _in_workers(con, chosen, publish, workers)
        con.execute(f"DETACH {SOURCE_ALIAS}")
        _comment(con, chosen, descriptions)
        if state is not None:
            _close_state(con, {f"{s}.{t}" for s, t in chosen})
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wal = snapshot_path.with_name(snapshot_path.name + ".wal")
    if wal.exists():  # a clean close after CHECKPOINT leaves none; a reader must need only the one file
        raise RuntimeError(f"snapshot left a WAL file behind: {wal}")
    snap.base_bytes = patch_base or snapshot_path.stat().st_size
    return snap


def _in_workers(
    con: duckdb.DuckDBPyConnection,
    chosen: list[tuple[str, str]],
    publish: Callable[[duckdb.DuckDBPyConnection, str, str], PublishedTable],
    workers: int,
) -> list[PublishedTable]:
    """`publish(cursor, schema, table)` of every chosen table, by `workers` threads at once, each on
    its own cursor of `con`'s database (docs/publication.md, "Two tables at a time"). A cursor is a
    connection of its own: temp tables (the patch's), temp macros (the masking's, installed on each)
    and transactions are per connection; the attached warehouse and state file, the memory limit
    and DuckDB's thread pool are the database's, shared. Each table's statements all run on one
    cursor in the order one thread runs them, and no two threads write the same table (or the same
    rows of the state file's shared tables), so what a table holds, in which order, and its Parquet
    parts' rows do not depend on `workers` (the bytes of a part of more than one row group may vary
    from run to run either way: DuckDB's Parquet writer cuts row groups as its threads hand over
    batches). The largest sources (DuckDB's estimate) start first, so the
    threads end together. Results in `chosen`'s order. After a failure no table is started; the
    first error is raised once the running ones are done (a signal in the waiting thread interrupts
    them first: `con` must outlive its cursors' statements)."""
    if workers <= 1 or len(chosen) <= 1:
        return [publish(con, schema, table) for schema, table in chosen]
    sizes = {
        (s, t): n or 0
        for s, t, n in con.execute(
            "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() WHERE database_name = ?",
            [SOURCE_ALIAS],
        ).fetchall()
    }
    todo = iter(sorted(range(len(chosen)), key=lambda i: (-sizes.get(chosen[i], 0), i)))
    results: dict[int, PublishedTable] = {}
    errors: list[BaseException] = []
    cursors: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            with lock:
                cur = con.cursor()
                cursors.append(cur)
            install_macros(cur)
            while True:
                with lock:
                    i = None if errors else next(todo, None)
                if i is None:
                    return
                results[i] = publish(cur, *chosen[i])
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread, raised there
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=work, name=f"snapshot-{n}") for n in range(min(workers, len(chosen)))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:
        with lock:
            errors.append(RuntimeError("interrupted"))
            for cur in cursors:
                cur.interrupt()
        for thread in threads:
            thread.join()
        raise
    finally:
        for cur in cursors:
            cur.close()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(chosen))]


def _drop_unpublished(con: duckdb.DuckDBPyConnection, in_copy: set, chosen: list[tuple[str, str]]) -> None:
    """In a copied snapshot: drop the tables no longer published, then the schemas left empty."""
    for schema, table in sorted(in_copy - set(chosen)):
        con.execute(f"DROP TABLE {quote(schema)}.{quote(table)}")
    keep = {s for s, _ in chosen} | {"main"}
    for (schema,) in con.execute(
        "SELECT DISTINCT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
        "AND NOT internal"
    ).fetchall():
        if schema not in keep:
            con.execute(f"DROP SCHEMA {quote(schema)}")


def _publish_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    parquet: Path,
    salt: str,
    previous: Reusable | None,
    in_copy: bool = False,
    state: bool = False,
    identity: Identity | None = None,
) -> PublishedTable:
    """One table into the snapshot and its Parquet parts (folder `parquet`): reused from `previous`
    when its source is unchanged and the table is exactly the one published then; else, when the
    copied previous file holds it (`in_copy`) with the same columns, patched (`state`: the private
    state file is attached, read and kept up to date); else masked from the source whole. Then its
    parts: the ones holding what the previous version's did are hard-linked, the others written.
    `identity` (with `state` only): the table's months are told changed by their rows' input
    fingerprints (`Identity`), not by hashing every row; its sums are kept even when built fresh."""
    src = f"{SOURCE_ALIAS}.{quote(schema)}.{quote(table)}"
    dest = f"{quote(schema)}.{quote(table)}"
    all_columns = _columns(con, f"SELECT * FROM {src}")
    source_columns = [(c, t) for c, t in all_columns if not is_internal_column(c)]
    select, by_name, by_pattern = masked_select(source_columns)
    if in_copy and _columns(con, f"SELECT {select} FROM {src} LIMIT 0") != _columns(
        con, f"SELECT * FROM {dest}"
    ):
        con.execute(f"DROP TABLE {dest}")  # another column list or type: built fresh
        in_copy = False
    identity = _identity(con, identity, all_columns) if state else None
    month_column = part_column(source_columns)
    # with an identity, its months by their rows' fingerprints (one narrow pass), even when built fresh
    found = (
        _identity_sums(con, src, source_columns, salt, month_column, identity)
        if identity and month_column
        else None
    )
    if found is None:  # (a row without a fingerprint: by its rows, as a table without an identity)
        identity = None
        month_column = month_column if in_copy else ""
    months_salt = identity.salt(salt) if identity else salt
    sums, by_month = {}, None
    if found is not None:
        source_fp, sums = found
    elif month_column:  # in the copy: its source per month, and its fingerprint, in one pass
        source_fp, sums = _source_sums(con, src, source_columns, salt, month_column)
    else:
        source_fp = _source_fingerprint(con, src, source_columns, salt)
    if month_column and in_copy:
        last = _state_months(con, source_columns, months_salt, f"{schema}.{table}") if state else {}
        by_month = _source_months(con, dest, source_columns, salt, previous, sums, last, identity is not None)
    reused, patched, new_rows_findings, content = False, None, None, None
    unchanged = previous is not None and previous.source_fingerprint == source_fp
    if unchanged and previous.complete and previous.parts:
        if not in_copy:  # the masked table's exact column types, then its rows from the published parts
            con.execute(f"CREATE TABLE {dest} AS SELECT {select} FROM {src} LIMIT 0")
        try:
            if not in_copy:
                con.execute(f"INSERT INTO {dest} BY NAME SELECT * FROM {_parquet_relation(previous.files)}")
            dest_columns = _columns(con, f"SELECT * FROM {dest}")
            content = _recorded_content(con, dest, dest_columns, salt, previous) if in_copy else None
            content = content or _content(con, dest, dest_columns)
            reused = content.fingerprint == previous.fingerprint
        except duckdb.Error:
            reused = False
        if not reused and not in_copy:  # e.g. a type the Parquet round trip changes: built as new
            con.execute(f"DROP TABLE {dest}")
    if reused:
        new_rows_findings = []  # the very table of the previous version, which was scanned clean
    else:
        name = f"{schema}.{table}"
        patch = None
        if by_month is not None and by_month.worth_it():  # only the changed months; no state kept
            patch = _patch_months(con, src, dest, source_columns, select, _Kept(previous, salt, ""), by_month)
            if state:
                _forget_state(con, name)
        elif in_copy:
            kept = _Kept(previous, salt, name if state else "")
            patch = _patch(con, src, dest, source_columns, select, kept)
        if patch is None:
            con.execute(f"DROP TABLE IF EXISTS {dest}")
            clean = _clean_text_columns(con, src, schema, table, source_columns)
            con.execute(f"CREATE TABLE {dest} AS SELECT {masked_select(source_columns, clean)[0]} FROM {src}")
            content = _content(con, dest, _columns(con, f"SELECT * FROM {dest}"))
            if state:
                _forget_state(con, name)
        else:
            patched, content, new_rows_findings = patch
    if state:  # tonight's source per month, for the next night's `_source_months`
        _save_state_months(con, f"{schema}.{table}", source_columns, months_salt, sums)
    parts = _write_parts(con, dest, parquet, content, salt, previous)
    return PublishedTable(
        schema=schema,
        table=table,
        rows=content.rows,
        columns=[{"name": c, "type": t} for c, t in content.columns],
        masked_by_name=by_name,
        masked_by_pattern=by_pattern,
        parts_by=content.parts_by,
        parts=parts,
        source_fingerprint=source_fp,
        fingerprint=content.fingerprint,
        reused=reused,
        patched=patched,
        new_rows_findings=new_rows_findings,
    )


def _clean_text_columns(
    con: duckdb.DuckDBPyConnection, src: str, schema: str, table: str, columns: list[tuple[str, str]]
) -> set[str]:
    """The text columns of a large source table (`masking.text_masked_columns`) on which masking is
    the identity: no value `pii_found` holds for (the test `mask_text` and `mask_key` make before
    changing a value). Found per column over its distinct values of at least MIN_PII_CHARS characters
    (a published column repeats its long values: roll-up keys, names, statuses), so the patterns run
    once per distinct value instead of once per row in the masked copy. Tables under
    CLEAN_PREPASS_MIN_ROWS rows (DuckDB's estimate, no scan) are masked row by row as before."""
    sql = "SELECT estimated_size FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
    sql += "AND table_name = ?"
    found = con.execute(sql, [SOURCE_ALIAS, schema, table]).fetchone()
    if found is None or (found[0] or 0) < CLEAN_PREPASS_MIN_ROWS:
        return set()
    clean = set()
    for name in masking.text_masked_columns(columns):
        v = quote(name)
        values = f"SELECT {v} AS v FROM {src} WHERE length({v}) >= {masking.MIN_PII_CHARS} GROUP BY ALL"
        (hits,) = con.execute(f"SELECT count(*) FROM ({values}) WHERE pii_found(v)").fetchone()
        if not hits:
            clean.add(name)
    return clean


def _recorded_content(
    con: duckdb.DuckDBPyConnection, dest: str, columns: list[tuple[str, str]], salt: str, previous: Reusable
) -> _Content | None:
    """The content of a table of the copied snapshot whose source is unchanged, as the version it
    was copied from recorded it (its parts' rows and hash sums), instead of a hash pass over it: the
    copy is that version's verified file (sealed, same size, scanned by this scanner) and nothing
    wrote into the table since it was fingerprinted there. Used only when every part was written by
    this recipe with these columns (its fingerprint says so), the parts add up to the table's
    recorded fingerprint, and the table's row count (DuckDB keeps it: no scan) is theirs; else None
    (the table is hashed)."""
    parts = previous.parts.values()
    if not previous.complete or any(p.fingerprint != digest(columns, p.rows, p.total, salt) for p in parts):
        return None
    sums = {k: (p.rows, p.total) for k, p in previous.parts.items()}
    content = _Content(columns, part_column(columns), sums)
    if content.fingerprint != previous.fingerprint:
        return None
    (rows,) = con.execute(f"SELECT count(*) FROM {dest}").fetchone()
    return content if rows == content.rows else None


def _parquet_relation(files: list[Path]) -> str:
    return f"read_parquet([{', '.join(_sql_str(str(f)) for f in files)}])"


# --- Parquet in parts (docs/publication.md, "Parquet in parts") ---

_MONTH = re.compile(r"\d{4}-\d{2}")


def part_column(columns: list[tuple[str, str]]) -> str:
    """The month column a large table with `columns` [(name, type)] is split by ("" = none): the
    first of PART_COLUMNS it has as text, a date or a timestamp."""
    types = {c.lower(): (c, t) for c, t in columns}
    for wanted in PART_COLUMNS:
        column, dtype = types.get(wanted, ("", ""))
        if column and (dtype.startswith(("VARCHAR", "DATE", "TIMESTAMP"))):
            return column
    return ""


def _part_expr(column: str) -> str:
    """A row's part key: the first 7 characters of its month column as text (`2026-11` of a period,
    a date or a timestamp), OTHER_PART for NULL. A key that is not a month (checked on the few keys
    found, `_Content.split`) keeps the table in one part."""
    return f"coalesce(left(CAST({quote(column)} AS VARCHAR), 7), '{OTHER_PART}')"


def _sums_by_part(relation: str, row: str, column: str, dtype: str, where: str = "") -> str:
    """The query of the rows and sum of row hashes (of `row`) per part key of month `column` (of type
    `dtype`) of `relation`: `(k, n, t)`. A text or DATE column holds few distinct values (months or
    days): grouped by the value first and the key computed once per value, which spares the text
    key of every row (~30 % of the pass); the counts and sums are the same (exact integer sums). A
    TIMESTAMP's values may all differ: keyed per row."""
    if not (dtype == "DATE" or dtype.startswith("VARCHAR")):
        return f"""SELECT {_part_expr(column)} AS k, count(*) AS n, sum(hash({row})::HUGEINT) AS t
        FROM {relation} {_where(where)} GROUP BY ALL"""
    by_value = f"""SELECT {quote(column)}, count(*) AS n, sum(hash({row})::HUGEINT) AS t
        FROM {relation} {_where(where)} GROUP BY ALL"""
    return (
        f"SELECT {_part_expr(column)} AS k, sum(n)::BIGINT AS n, sum(t) AS t FROM ({by_value}) GROUP BY ALL"
    )


@dataclass(frozen=True)
class _Content:
    """A finished snapshot table's content: its columns and, per key of its month column (or one
    WHOLE_PART), rows and the sum of row hashes; one hash pass gives both the table's fingerprint
    (the sums add up) and which parts changed."""

    columns: list[tuple[str, str]]
    parts_by: str
    sums: dict[str, tuple[int, int | None]]

    @property
    def rows(self) -> int:
        return sum(n for n, _ in self.sums.values())

    @property
    def total(self) -> int | None:
        return sum(t for _, t in self.sums.values() if t is not None) if self.rows else None

    @property
    def fingerprint(self) -> str:
        return digest(self.columns, self.rows, self.total)

    def split(self) -> dict[str, tuple[int, int | None]]:
        """The parts published: per month for a large table with a month column whose keys are all
        months (or OTHER_PART), else the whole table as WHOLE_PART."""
        keys = set(self.sums)
        if (
            self.parts_by
            and self.rows >= PARTS_MIN_ROWS
            and all(_MONTH.fullmatch(k) or k == OTHER_PART for k in keys)
        ):
            return dict(self.sums)
        return {WHOLE_PART: (self.rows, self.total)}


def _content(
    con: duckdb.DuckDBPyConnection, dest: str, columns: list[tuple[str, str]], where: str = ""
) -> _Content:
    """One hash pass over `dest` (only its rows matching `where`, when given), grouped by its part key."""
    parts_by = part_column(columns)
    row = ", ".join(quote(c) for c, _ in columns)
    if parts_by:
        sql = _sums_by_part(dest, row, parts_by, dict(columns)[parts_by], where)
    else:
        sql = f"SELECT '{WHOLE_PART}' AS k, count(*), sum(hash({row})::HUGEINT) FROM {dest} {_where(where)}"
        sql += " GROUP BY ALL"
    sums = con.execute(sql).fetchall()
    return _Content(columns, parts_by, {k: (int(n), None if t is None else int(t)) for k, n, t in sums})


def _write_parts(
    con: duckdb.DuckDBPyConnection,
    dest: str,
    folder: Path,
    content: _Content,
    salt: str,
    previous: Reusable | None,
) -> list[dict]:
    """The table's Parquet parts in `folder`: a part whose fingerprint (columns, rows, hash sum and
    this code's recipe) is the one of the previous version's verified part of the same key is
    hard-linked from it; the others are written."""
    folder.mkdir(parents=True, exist_ok=True)
    out, todo = [], []
    for key, (rows, total) in sorted(content.split().items()):
        fp = digest(content.columns, rows, total, salt)
        target = folder / f"{key}.parquet"
        old = previous.parts.get(key) if previous is not None else None
        linked = False
        if old is not None and old.fingerprint == fp and old.rows == rows and old.total == total:
            try:
                os.link(old.path, target)
                linked = True
            except OSError:  # e.g. vanished since it was verified: written below
                pass
        if not linked:
            todo.append(key)
        total_text = None if total is None else str(total)
        part = {"file": target.name, "part": key, "rows": rows, "sum": total_text, "fingerprint": fp}
        out.append({**part, "reused": linked})
    if todo == [WHOLE_PART]:
        con.execute(f"COPY {dest} TO {_sql_str(str(folder / f'{WHOLE_PART}.parquet'))} ({PARQUET_OPTIONS})")
    elif todo:
        dtype = dict(content.columns)[content.parts_by]
        _copy_parts(con, dest, folder, todo, content.parts_by, dtype)
    return out


def _copy_parts(
    con: duckdb.DuckDBPyConnection, dest: str, folder: Path, keys: list[str], column: str, dtype: str
) -> None:
    """Write the parts `keys` of `dest` (split by its month `column` of type `dtype`) as
    `folder/<key>.parquet`, one `COPY` of the part's rows each. (One partitioned `COPY … PARTITION_BY`
    of them all cost 3x the CPU of these filtered copies on an 8.75 M-row table of 49 months, and more
    memory: docs/benchmarks.md, "Parquet in parts".)"""
    for k in keys:
        rows = f"SELECT * FROM {dest} WHERE {_part_filter(column, dtype, k)}"
        con.execute(f"COPY ({rows}) TO {_sql_str(str(folder / f'{k}.parquet'))} ({PARQUET_OPTIONS})")


def _part_filter(column: str, dtype: str, key: str) -> str:
    """The rows of part `key`: those whose part key (`_part_expr`) is `key`. A cheap condition that
    every such row meets comes first, so DuckDB filters the stored column in the scan itself instead
    of computing every row's key (a cast to text) for each part; the equality still decides, so the
    rows are the same (~20 % of the parts' COPY for a text column, docs/benchmarks.md, "The full
    night's snapshot and scan"; a date column's parts ~3x cheaper, "The one-day night's publication"):
    - a month of a text column: `period >= '2026-11' AND period < '2026-12'` (a text whose first 7
      characters are `2026-11` sorts between the two, byte by byte);
    - a month of a DATE or TIMESTAMP column: `day >= DATE '2026-11-01' AND day < DATE '2026-12-01'`,
      or a date before year 1 (DuckDB writes those `2026-11-01 (BC)`: the same first 7 characters);
    - OTHER_PART: NULL, or for a text column the text `other` itself."""
    exact = f"{_part_expr(column)} = {_sql_str(key)}"
    v = quote(column)
    if key == OTHER_PART:
        return (
            f"({v} IS NULL OR {v} = 'other') AND {exact}"
            if dtype.startswith("VARCHAR")
            else f"{v} IS NULL AND {exact}"
        )
    if not _MONTH.fullmatch(key):
        return exact
    if dtype.startswith("VARCHAR"):
        above = key[:-1] + chr(ord(key[-1]) + 1)  # the last character is a digit: '9' + 1 is ':'
        return f"{v} >= {_sql_str(key)} AND {v} < {_sql_str(above)} AND {exact}"
    year, month = int(key[:4]), int(key[5:])
    if dtype not in ("DATE", "TIMESTAMP") or not 1 <= month <= 12:
        return exact
    start, end = f"{year:04d}-{month:02d}-01", f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"
    return f"({v} >= {dtype} '{start}' AND {v} < {dtype} '{end}' OR {v} < {dtype} '0001-01-01') AND {exact}"


def _columns(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {query}").fetchall()]


# --- the private state file (docs/publication.md, "The patch's private state") ---


def _open_state(con: duckdb.DuckDBPyConnection, path: Path, previous: Path | None) -> None:
    """Attach the state file at `path` as STATE_ALIAS: a copy of `previous` (last night's) when
    given and readable, else a new empty one."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if previous is not None and previous.is_file():
        try:
            shutil.copyfile(previous, path)
            con.execute(f"ATTACH {_sql_str(str(path))} AS {STATE_ALIAS}")
            con.execute(f"SELECT count(*) FROM {STATE_ALIAS}.{STATE_TABLES}").fetchone()
            _state_months_table(con)  # a state kept before the months were
            return
        except (duckdb.Error, OSError):  # unreadable: started empty, the patch masks whole tables
            if (STATE_ALIAS,) in con.execute("SELECT database_name FROM duckdb_databases()").fetchall():
                con.execute(f"DETACH {STATE_ALIAS}")
            path.unlink(missing_ok=True)
    con.execute(f"ATTACH {_sql_str(str(path))} AS {STATE_ALIAS}")
    con.execute(
        f"CREATE TABLE {STATE_ALIAS}.{STATE_TABLES} "
        "(name VARCHAR, recipe VARCHAR, rows BIGINT, total HUGEINT)"
    )
    _state_months_table(con)


def _state_months_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_ALIAS}.{STATE_MONTHS} "
        "(name VARCHAR, recipe VARCHAR, k VARCHAR, rows BIGINT, total HUGEINT)"
    )


def _months_recipe(source_columns: list[tuple[str, str]], salt: str) -> str:
    """What the kept source sums per month were computed with: the published columns and the recipe."""
    return digest(source_columns, 0, None, salt)


def _state_months(
    con: duckdb.DuckDBPyConnection, source_columns: list[tuple[str, str]], salt: str, name: str
) -> dict[str, tuple[int, int]]:
    """The source per month (`_source_sums`) the state kept for table `name` with these columns and
    recipe ({} if none)."""
    found = con.execute(
        f"SELECT k, rows, total FROM {STATE_ALIAS}.{STATE_MONTHS} WHERE name = ? AND recipe = ?",
        [name, _months_recipe(source_columns, salt)],
    ).fetchall()
    return {k: (int(n), int(t)) for k, n, t in found}


def _save_state_months(
    con: duckdb.DuckDBPyConnection,
    name: str,
    source_columns: list[tuple[str, str]],
    salt: str,
    sums: dict[str, tuple[int, int]],
) -> None:
    con.execute(f"DELETE FROM {STATE_ALIAS}.{STATE_MONTHS} WHERE name = ?", [name])
    recipe_ = _months_recipe(source_columns, salt)
    if sums:  # one statement: an executemany of one row per month cost ~0.2 s a table (a commit each)
        keys = list(sums)
        con.execute(
            f"INSERT INTO {STATE_ALIAS}.{STATE_MONTHS} "
            "SELECT ?, ?, unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[])::HUGEINT",
            [name, recipe_, keys, [sums[k][0] for k in keys], [str(sums[k][1]) for k in keys]],
        )


def _state_table(name: str) -> str:
    return f"{STATE_ALIAS}.main.{quote(name)}"


def _forget_state(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"DELETE FROM {STATE_ALIAS}.{STATE_TABLES} WHERE name = ?", [name])
    con.execute(f"DROP TABLE IF EXISTS {_state_table(name)}")


def _close_state(con: duckdb.DuckDBPyConnection, published: set[str]) -> None:
    """Forget the tables no longer published, write the state file out and detach it."""
    sql = f"SELECT name FROM {STATE_ALIAS}.{STATE_TABLES} UNION SELECT table_name FROM duckdb_tables() "
    sql += f"WHERE database_name = '{STATE_ALIAS}' AND table_name NOT IN ('{STATE_TABLES}', '{STATE_MONTHS}')"
    for (name,) in con.execute(sql).fetchall():
        if name not in published:
            _forget_state(con, name)
    for (name,) in con.execute(f"SELECT DISTINCT name FROM {STATE_ALIAS}.{STATE_MONTHS}").fetchall():
        if name not in published:
            con.execute(f"DELETE FROM {STATE_ALIAS}.{STATE_MONTHS} WHERE name = ?", [name])
    con.execute(f"CHECKPOINT {STATE_ALIAS}")
    con.execute(f"DETACH {STATE_ALIAS}")


def _save_state_meta(con: duckdb.DuckDBPyConnection, kept: _Kept, rows: int, total: int | None) -> None:
    con.execute(f"DELETE FROM {STATE_ALIAS}.{STATE_TABLES} WHERE name = ?", [kept.name])
    con.execute(
        f"INSERT INTO {STATE_ALIAS}.{STATE_TABLES} VALUES (?, ?, ?, ?::HUGEINT)",
        [kept.name, kept.salt, rows, None if total is None else str(total)],
    )


@dataclass(frozen=True)
class _Kept:
    """What a patch may use and keep: the previous version's table (`previous`: its published
    fingerprint), this code's recipe, and the table's name in the state file ("" = no state)."""

    previous: Reusable | None
    salt: str
    name: str


_TOUCHED = "touched"  # a state patch that changed the table, then failed its check

PATCH_TEMP_TABLES = (
    "snapshot_patch_published_rows",
    "snapshot_patch_published",
    "snapshot_patch_source",
    "snapshot_patch_changed",
    "snapshot_patch_masked",
    "snapshot_patch_masked_hashes",
    "snapshot_patch_delta",
    "snapshot_patch_inserted",
    "snapshot_patch_source_rows",
)


def _patch(
    con: duckdb.DuckDBPyConnection,
    src: str,
    dest: str,
    source_columns: list[tuple[str, str]],
    select: str,
    kept: _Kept,
) -> tuple[dict, _Content, list[str]] | None:
    """Make the copied table `dest` hold the masked rows of `src` by changing only the rows that
    differ: from the state file when it describes the copied table (`_patch_from_state`: only the
    changed source rows are masked), else by masking every source row (`_patch_masking_all`).
    Returns ({"deleted", "inserted", "masked"}, the table's content, findings of the inserted rows),
    or None (the table is to be built whole) when too many rows changed or the patched table's
    fingerprint is not the masked source's."""
    columns = _columns(con, f"SELECT * FROM {dest}")
    source_row = ", ".join(quote(c) for c, _ in source_columns)
    try:
        result, as_itself = None, _masks_as_itself(source_columns, columns, kept)
        if kept.name and kept.previous is not None:
            result = _patch_from_state(con, src, dest, columns, source_row, select, kept)
            if result is _TOUCHED:  # the table holds rows of a failed patch: every row masked below
                result, as_itself = None, False
        if result is None:
            result = _patch_masking_all(
                con, src, dest, columns, source_row, select, kept, as_itself, source_table=(src, "")
            )
        return _with_findings(con, result)
    finally:
        _drop_patch_tables(con)


def _with_findings(
    con: duckdb.DuckDBPyConnection, result: tuple[dict, _Content] | None
) -> tuple[dict, _Content, list[str]] | None:
    """A patch's counts and content with the personal-data findings of the rows it inserted: they
    are all the table holds that the clean previous version did not."""
    if result is None:
        return None
    counts, content = result
    return counts, content, scan_relation(con, "snapshot_patch_inserted") if counts["inserted"] else []


def _drop_patch_tables(con: duckdb.DuckDBPyConnection) -> None:
    for temp in PATCH_TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {temp}")


@dataclass(frozen=True)
class _SourceMonths:
    """A copied table published in month parts, and its source per month (`_source_months`): per
    month key the source's rows and the sum of the hashes of its published columns, unmasked
    (`sums`); the copied table's content as recorded (`recorded`); the same sums of the source the
    copy was built from, kept in the private state (`last`, {} without one)."""

    sums: dict[str, tuple[int, int]]
    recorded: _Content
    last: dict[str, tuple[int, int]]  # the private state's: the source per month the copy was built from
    identity: bool = False  # `sums` and `last` are sums of the rows' input fingerprints (`Identity`)

    @property
    def rows(self) -> int:
        return sum(n for n, _ in self.sums.values())

    def changed(self) -> list[str]:
        """The months whose source rows are neither the copied table's rows (rows or hash sum
        differ: new, changed, or rows masking changes) nor the source rows that month was masked
        from (the private state's, when kept)."""
        keys = set(self.sums) | set(self.recorded.sums)
        if self.identity:  # never comparable with the copy's sums: a month is as last night's or not
            return sorted(
                k
                for k in keys
                if k not in self.sums or k not in self.recorded.sums or self.sums[k] != self.last.get(k)
            )
        return sorted(
            k
            for k in keys
            if self.sums.get(k) != self.recorded.sums.get(k)
            and (k not in self.recorded.sums or self.sums.get(k) != self.last.get(k))
        )

    def worth_it(self) -> bool:
        """Do the changed months hold at most MONTHS_MAX_SHARE of the source's rows? A month whose
        rows masking changes (a phone in a note) never equals its published form, so it counts as
        changed every night; when such months are most of the table, patching it whole (from the
        private state, which masks only the changed source rows) costs less."""
        changed = self.changed()
        return sum(self.sums.get(k, (0, None))[0] for k in changed) <= MONTHS_MAX_SHARE * self.rows


def _source_fingerprint(
    con: duckdb.DuckDBPyConnection, src: str, source_columns: list[tuple[str, str]], salt: str
) -> str:
    """The source fingerprint of a table: of its published columns only (the internal `*_fingerprint`
    bookkeeping is never published, so it cannot change the published table), with the recipe."""
    published = ", ".join(quote(c) for c, _ in source_columns)
    return fingerprint(con, f"(SELECT {published} FROM {src})", salt)[1]


def _source_sums(
    con: duckdb.DuckDBPyConnection,
    src: str,
    source_columns: list[tuple[str, str]],
    salt: str,
    column: str,
) -> tuple[str, dict[str, tuple[int, int]]]:
    """One pass over a source with a month `column`, one hash per row: per month key (`_part_expr`)
    its rows and the sum of the hashes of its published columns, unmasked, and from their sum the
    source fingerprint (`_source_fingerprint`: the same digest, the sums add up)."""
    published_row = ", ".join(quote(c) for c, _ in source_columns)
    found = con.execute(_sums_by_part(src, published_row, column, dict(source_columns)[column])).fetchall()
    sums = {k: (int(n), int(t)) for k, n, t in found}
    return _sums_digest(source_columns, sums, salt), sums


def _sums_digest(source_columns: list[tuple[str, str]], sums: dict[str, tuple[int, int]], salt: str) -> str:
    """The digest of a source summed per month: its rows and hash sum are the months' totals."""
    rows = sum(n for n, _ in sums.values())
    return digest(source_columns, rows, sum(t for _, t in sums.values()) if rows else None, salt)


def _identity(
    con: duckdb.DuckDBPyConnection, identity: Identity | None, all_columns: list[tuple[str, str]]
) -> Identity | None:
    """`identity` when the source has what it names: the fingerprint column in the table, or the
    fingerprints' table with its key and column and the key in the table; else None."""
    if identity is None:
        return None
    names = {c for c, _ in all_columns}
    if not identity.table:
        return identity if identity.column in names else None
    schema, _, table = identity.table.partition(".")
    found = {
        c
        for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
            "AND table_name = ?",
            [SOURCE_ALIAS, schema, table],
        ).fetchall()
    }
    return identity if identity.key in names and {identity.key, identity.column} <= found else None


def _identity_sums(
    con: duckdb.DuckDBPyConnection,
    src: str,
    source_columns: list[tuple[str, str]],
    salt: str,
    column: str,
    identity: Identity,
) -> tuple[str, dict[str, tuple[int, int]]] | None:
    """`_source_sums` over the rows' input fingerprints instead of their columns: per month key its
    rows and the sum of the hashes of its rows' fingerprints (one narrow column, or two and a join
    for a fingerprints' table), and from them a source fingerprint of their own recipe
    (`Identity.salt`). None when a row has no fingerprint (NULL, or its key not in the fingerprints'
    table): nothing says what that row was computed from."""
    fp = quote(identity.column)
    relation = src
    if identity.table:
        schema, _, table = identity.table.partition(".")
        key = quote(identity.key)
        relation = f"""(SELECT t.{quote(column)}, f.{fp} FROM {src} AS t
            LEFT JOIN {SOURCE_ALIAS}.{quote(schema)}.{quote(table)} AS f ON t.{key} = f.{key})"""
    found = con.execute(
        f"""SELECT {_part_expr(column)} AS k, sum(n)::BIGINT, sum(t), sum(f)::BIGINT FROM (
            SELECT {quote(column)}, count(*) AS n, sum(hash({fp})::HUGEINT) AS t, count({fp}) AS f
            FROM {relation} GROUP BY ALL) GROUP BY ALL"""
    ).fetchall()
    if any(n != f for _, n, _, f in found):
        return None
    sums = {k: (int(n), int(t)) for k, n, t, _ in found}
    return _sums_digest(source_columns, sums, identity.salt(salt)), sums


def _source_months(
    con: duckdb.DuckDBPyConnection,
    dest: str,
    source_columns: list[tuple[str, str]],
    salt: str,
    previous: Reusable | None,
    sums: dict[str, tuple[int, int]],
    last: dict[str, tuple[int, int]],
    identity: bool = False,
) -> _SourceMonths | None:
    """The months of a table of the copied snapshot, for `_patch_months`. None (the table is
    patched as before) unless a source row equal to a copied row may be taken as its own masked
    form (`_masks_as_itself`) and the copied table's parts, as recorded by the version it comes
    from, are months (`_recorded_content`)."""
    if previous is None:
        return None
    columns = _columns(con, f"SELECT * FROM {dest}")
    if not _masks_as_itself(source_columns, columns, _Kept(previous, salt, "")):
        return None
    recorded = _recorded_content(con, dest, columns, salt, previous)
    if recorded is None or not recorded.parts_by or not recorded.sums or WHOLE_PART in recorded.sums:
        return None
    return _SourceMonths(sums, recorded, last, identity)


def _patch_months(
    con: duckdb.DuckDBPyConnection,
    src: str,
    dest: str,
    source_columns: list[tuple[str, str]],
    select: str,
    kept: _Kept,
    months: _SourceMonths,
) -> tuple[dict, _Content, list[str]] | None:
    """Patch only the months whose source changed. A month whose source rows have the copied
    table's rows and hash sum for that month holds, up to a 64-bit hash collision (the fingerprints'
    bet), the very rows of the copied month, each its own masked form (`_masks_as_itself`): that
    month is the masked source's already and is not read again. The other months are patched as
    `_patch_masking_all` patches a table, restricted to their rows on both sides (the rows of a
    month are the same rows in the source and the copy: the month column is published as it is),
    with the check of the patched rows' fingerprint. The table's content is the recorded one of the
    unchanged months plus the patched months'. None: build the table whole (too many changed rows,
    or the patched months' fingerprint is not the masked source's)."""
    changed = months.changed()
    recorded = months.recorded
    if not changed:
        return {"deleted": 0, "inserted": 0, "masked": 0}, recorded, []
    columns, column = recorded.columns, recorded.parts_by
    where = " OR ".join(f"({_part_filter(column, dict(columns)[column], k)})" for k in changed)
    source_row = ", ".join(quote(c) for c, _ in source_columns)
    try:
        patched = _with_findings(
            con,
            _patch_masking_all(
                con,
                f"(SELECT * FROM {src} WHERE {where})",
                dest,
                columns,
                source_row,
                select,
                kept,
                as_itself=True,
                where=where,
                table_rows=months.rows,
                source_table=(src, where),
            ),
        )
    finally:
        _drop_patch_tables(con)
    if patched is None:
        return None
    counts, content, findings = patched
    unchanged = {k: v for k, v in recorded.sums.items() if k not in changed}
    return counts, _Content(columns, column, {**unchanged, **content.sums}), findings


def _where(condition: str) -> str:
    return f"WHERE {condition}" if condition else ""


def _verified(
    con: duckdb.DuckDBPyConnection,
    dest: str,
    columns: list[tuple[str, str]],
    rows: int,
    total: int | None,
    where: str = "",
) -> _Content | None:
    """The patched table's content (one hash pass over it, by part; over its rows matching `where`
    only, when given) when its fingerprint is the expected one."""
    content = _content(con, dest, columns, where)
    return content if content.fingerprint == digest(columns, rows, total) else None


def _masked_by_this_recipe(kept: _Kept, columns: list[tuple[str, str]]) -> bool:
    """Was the copied table masked by this recipe? Its previous version's parts say so: each part's
    fingerprint is the digest of the table's columns, the part's rows and hash sum and the recipe
    that wrote it (`_write_parts`), so a part whose fingerprint this recipe reproduces was written by
    it (a masking change changes the recipe)."""
    parts = kept.previous.parts.values() if kept.previous is not None else ()
    return any(p.fingerprint == digest(columns, p.rows, p.total, kept.salt) for p in parts)


def _masks_as_itself(
    source_columns: list[tuple[str, str]], columns: list[tuple[str, str]], kept: _Kept
) -> bool:
    """May a source row equal to a row of the copied table be taken as its own masked form (not
    masked again)? Yes when the copied table was masked by this recipe (and so, its version scanned
    clean, holds only rows masking leaves as they are: masking a masked phone, credit code, key or
    text gives it back, and a text value still holding a number would have been refused by the scan)
    and masking keeps every column's type. Not for JSON columns, whose masking re-serialises the
    value (not shown to give a masked value back unchanged)."""
    return (
        source_columns == columns
        and not any(t == "JSON" for _, t in columns)
        and _masked_by_this_recipe(kept, columns)
    )


def _patch_masking_all(
    con: duckdb.DuckDBPyConnection,
    src: str,
    dest: str,
    columns: list[tuple[str, str]],
    source_row: str,
    select: str,
    kept: _Kept,
    as_itself: bool = False,
    where: str = "",
    table_rows: int | None = None,
    source_table: tuple[str, str] | None = None,
) -> tuple[dict, _Content] | None:
    """The patch as a multiset of masked rows: each masked source row's hash (and its source row's
    hash) is counted, every row hash whose count differs from the table's is deleted from the table
    and the masked source rows with that hash inserted (duplicates included). The patched table must
    then have the masked source's fingerprint (the counted hashes give it). With a state name, the
    counted (source row hash, masked row hash, count) become the table's state.
    `as_itself` (`_masks_as_itself`): a source row whose hash is the hash of a row of the copied
    table is that row, already masked, so only the other source rows (new, changed, or changed by
    masking) go through the masking; the fingerprint check below holds either way.
    `where` (`_patch_months`): the patch of the table's rows matching it only (`src` is then the
    source's rows matching it), the rest of the table untouched; `table_rows`: the whole table's
    rows, what the share of changed rows is measured against.
    Passes: the copy's rows are hashed once, kept as (rowid, row hash), so the DELETE takes its rows
    by rowid instead of hashing the table again (in one transaction with that pass: no checkpoint in
    between can move a rowid); with `as_itself` the masked source rows (those not in the copy: few)
    are kept whole, so the rows to insert are taken from them instead of a third pass over the source
    (unless one of them is a copied row whose count went up: then from the source, as without).
    `source_table`: the source table and the condition whose rows `src` is ("" = all), so that with
    `as_itself` the source rows are hashed once (`_patch_counts`)."""
    row = ", ".join(quote(c) for c, _ in columns)
    con.execute("BEGIN TRANSACTION")
    try:
        changes = _patch_counts(con, src, dest, row, source_row, select, as_itself, where, source_table)
        as_itself, rows, total, deleted, inserted = changes
        if deleted + inserted > PATCH_MAX_SHARE * max(rows if table_rows is None else table_rows, 1):
            con.execute("COMMIT")
            return None
        if deleted:
            con.execute(
                f"""DELETE FROM {dest} WHERE rowid IN (
                    SELECT r FROM snapshot_patch_published_rows
                    WHERE h IN (SELECT h FROM snapshot_patch_changed WHERE published_n > 0))"""
            )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    # only the chosen source rows are masked again
    wanted = "SELECT source_h FROM snapshot_patch_source WHERE h IN "
    wanted += "(SELECT h FROM snapshot_patch_changed WHERE source_n > 0)"
    from_masked = as_itself
    if as_itself:  # every row to insert among the masked ones (all copies of each are there)?
        outside = f"SELECT count(*) FROM ({wanted}) WHERE source_h NOT IN "
        (outside,) = con.execute(f"{outside}(SELECT sh FROM snapshot_patch_masked_hashes)").fetchone()
        from_masked = not outside
    if from_masked:  # in the source's order, as from the source (a small IN may flip the join's sides)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_inserted AS
            SELECT {row} FROM snapshot_patch_masked WHERE {ROW_HASH} IN ({wanted}) ORDER BY rowid"""
        )
    else:
        con.execute(  # in the masked rows' hash order: a semi join's order may vary with DuckDB's threads
            f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_inserted AS
            SELECT * FROM (SELECT {select} FROM (SELECT * FROM {src} WHERE hash({source_row}) IN ({wanted})))
            ORDER BY hash({row})"""
        )
    if inserted:
        con.execute(f"INSERT INTO {dest} SELECT * FROM snapshot_patch_inserted")
    content = _verified(con, dest, columns, rows, total, where)
    if content is None:
        return None
    if kept.name:
        con.execute(
            f"""CREATE OR REPLACE TABLE {_state_table(kept.name)} AS
            SELECT source_h AS sh, h, n FROM snapshot_patch_source"""
        )
        _save_state_meta(con, kept, rows, total)
    masked = rows
    if as_itself:  # the source rows (all copies) that went through the masking
        (masked,) = con.execute(
            """SELECT coalesce(sum(s.n), 0) FROM snapshot_patch_source AS s
            JOIN snapshot_patch_masked_hashes AS m ON s.source_h = m.sh"""
        ).fetchone()
    return {"deleted": deleted, "inserted": inserted, "masked": int(masked)}, content


def _patch_counts(
    con: duckdb.DuckDBPyConnection,
    src: str,
    dest: str,
    row: str,
    source_row: str,
    select: str,
    as_itself: bool,
    where: str,
    source_table: tuple[str, str] | None = None,
) -> tuple[bool, int, int | None, int, int]:
    """`_patch_masking_all`'s counting: the copy's rows (of `where`) hashed into
    `snapshot_patch_published_rows` and counted, the source's masked hashes counted, their
    difference (`snapshot_patch_changed`). Returns (as_itself still, the source's rows and hash sum,
    rows to delete, rows to insert).
    With `as_itself` and `source_table` (the table and condition `src` reads), the source rows are
    hashed once, kept as (rowid, row hash) in `snapshot_patch_source_rows`: they are counted from it,
    and the few not in the copy fetched by rowid to be masked (a rowid list costs DuckDB next to
    nothing) instead of a second hash pass over the source rows; the same rows, in the same order."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_published_rows AS
        SELECT rowid AS r, hash({row}) AS h FROM {dest} {_where(where)}"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE snapshot_patch_published AS
        SELECT h, count(*) AS n FROM snapshot_patch_published_rows GROUP BY h"""
    )
    counted = f"SELECT hash({source_row}) AS sh, count(*) AS n FROM {src} GROUP BY ALL"
    if as_itself and source_table is not None:
        table, condition = source_table
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_source_rows AS
            SELECT rowid AS r, hash({source_row}) AS sh FROM {table} {_where(condition)}"""
        )
        counted = "SELECT sh, count(*) AS n FROM snapshot_patch_source_rows GROUP BY ALL"
        # fetched by rowid, in the source's order (a scan's, as below; a rowid list is fetched in its own)
        masked = f"""SELECT * EXCLUDE ({SOURCE_ROWID}), hash({row}) AS {MASKED_HASH} FROM (
            SELECT {select}, {ROW_HASH}, {SOURCE_ROWID} FROM (
                SELECT *, hash({source_row}) AS {ROW_HASH}, rowid AS {SOURCE_ROWID} FROM {table}
                WHERE rowid IN (SELECT r FROM snapshot_patch_source_rows
                                WHERE sh NOT IN (SELECT h FROM snapshot_patch_published))))
            ORDER BY {SOURCE_ROWID}"""
    else:
        masked = f"""SELECT *, hash({row}) AS {MASKED_HASH} FROM (
            SELECT {select}, {ROW_HASH} FROM (SELECT *, hash({source_row}) AS {ROW_HASH} FROM {src})
            WHERE {ROW_HASH} NOT IN (SELECT h FROM snapshot_patch_published))"""
    if as_itself:
        # only the source rows not in the copied table are masked, kept whole with their hashes
        con.execute(f"CREATE OR REPLACE TEMP TABLE snapshot_patch_masked AS {masked}")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_masked_hashes AS
            SELECT {ROW_HASH} AS sh, min({MASKED_HASH}) AS h, max({MASKED_HASH}) AS h_max
            FROM snapshot_patch_masked GROUP BY ALL"""
        )
        (doubts,) = con.execute(
            "SELECT count(*) FROM snapshot_patch_masked_hashes WHERE h <> h_max"
        ).fetchone()
        if doubts:  # one source row masked two ways: not expected, masked whole below
            as_itself = False
        else:
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_source AS
                SELECT coalesce(m.h, t.sh) AS h, t.sh AS source_h, t.n
                FROM ({counted}) AS t LEFT JOIN snapshot_patch_masked_hashes AS m ON t.sh = m.sh"""
            )
    if not as_itself:  # one masking pass: (masked row hash, source row hash) -> count
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_source AS
            SELECT hash({row}) AS h, {ROW_HASH} AS source_h, count(*) AS n
            FROM (SELECT {select}, {ROW_HASH}
                  FROM (SELECT *, hash({source_row}) AS {ROW_HASH} FROM {src}))
            GROUP BY ALL"""
        )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE snapshot_patch_changed AS
        WITH source AS (SELECT h, sum(n) AS n FROM snapshot_patch_source GROUP BY h)
        SELECT coalesce(s.h, p.h) AS h, coalesce(s.n, 0) AS source_n, coalesce(p.n, 0) AS published_n
        FROM source AS s FULL JOIN snapshot_patch_published AS p ON s.h = p.h
        WHERE s.n IS DISTINCT FROM p.n"""
    )
    rows, total, deleted, inserted = con.execute(
        """SELECT (SELECT sum(n) FROM snapshot_patch_source),
                  (SELECT sum(h::HUGEINT * n) FROM snapshot_patch_source),
                  (SELECT sum(published_n) FROM snapshot_patch_changed WHERE published_n > 0),
                  (SELECT sum(source_n) FROM snapshot_patch_changed WHERE source_n > 0)"""
    ).fetchone()
    return as_itself, int(rows or 0), total, int(deleted or 0), int(inserted or 0)


def _patch_from_state(
    con: duckdb.DuckDBPyConnection,
    src: str,
    dest: str,
    columns: list[tuple[str, str]],
    source_row: str,
    select: str,
    kept: _Kept,
) -> tuple[dict, _Content] | str | None:
    """The patch from the state file: used only when the state was kept by this recipe and its rows
    and hash sum give the copied table's published fingerprint. Tonight's source rows are hashed and
    counted (no masking), diffed against the state's (source row hash -> masked row hash, count);
    only the source rows whose count changed are masked. Per masked row hash, the change of count
    (a multiset: identical masked rows of several source rows add up) is applied to the table:
    that many copies deleted, or that many masked rows inserted. The patched table's fingerprint
    (one hash pass) must equal the one the state and the changes give; then the state is updated."""
    meta = con.execute(
        f"SELECT recipe, rows, total FROM {STATE_ALIAS}.{STATE_TABLES} WHERE name = ?", [kept.name]
    ).fetchone()
    if meta is None or meta[0] != kept.salt or digest(columns, meta[1], meta[2]) != kept.previous.fingerprint:
        return None
    _, old_rows, old_total = meta
    state = _state_table(kept.name)
    row = ", ".join(quote(c) for c, _ in columns)
    masked_row = ", ".join(f"m.{quote(c)}" for c, _ in columns)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_changed AS
        WITH tonight AS (SELECT hash({source_row}) AS sh, count(*) AS n FROM {src} GROUP BY ALL)
        SELECT coalesce(t.sh, s.sh) AS sh, coalesce(t.n, 0) AS new_n, coalesce(s.n, 0) AS old_n,
               s.h AS old_h
        FROM tonight AS t FULL JOIN {state} AS s ON t.sh = s.sh
        WHERE t.n IS DISTINCT FROM s.n"""
    )
    new_n, old_n = con.execute(
        "SELECT coalesce(sum(new_n), 0), coalesce(sum(old_n), 0) FROM snapshot_patch_changed"
    ).fetchone()
    if new_n + old_n > PATCH_MAX_SHARE * max(old_rows, 1):
        return None
    # the changed source rows only, masked (all copies of each: the inserts take what they need)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_masked AS
        SELECT *, hash({row}) AS {MASKED_HASH} FROM (
            SELECT {select}, {ROW_HASH} FROM (SELECT *, hash({source_row}) AS {ROW_HASH} FROM {src})
            WHERE {ROW_HASH} IN (SELECT sh FROM snapshot_patch_changed WHERE new_n > 0))"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_masked_hashes AS
        SELECT {ROW_HASH} AS sh, min({MASKED_HASH}) AS h, max({MASKED_HASH}) AS h_max
        FROM snapshot_patch_masked GROUP BY ALL"""
    )
    (doubts,) = con.execute(
        """SELECT count(*) FROM snapshot_patch_changed AS c
        LEFT JOIN snapshot_patch_masked_hashes AS m ON c.sh = m.sh
        WHERE (c.new_n > 0 AND m.h IS NULL) OR m.h <> m.h_max OR m.h <> c.old_h"""
    ).fetchone()
    if doubts:  # a source row not found again, or masked otherwise than the state says
        return None
    con.execute(
        """CREATE OR REPLACE TEMP TABLE snapshot_patch_delta AS
        SELECT coalesce(m.h, c.old_h) AS h, sum(c.new_n - c.old_n) AS d
        FROM snapshot_patch_changed AS c LEFT JOIN snapshot_patch_masked_hashes AS m ON c.sh = m.sh
        GROUP BY ALL HAVING sum(c.new_n - c.old_n) <> 0"""
    )
    delta, delta_total, deleted, inserted = con.execute(
        """SELECT coalesce(sum(d), 0), coalesce(sum(h::HUGEINT * d), 0),
                  coalesce(sum(-d) FILTER (WHERE d < 0), 0), coalesce(sum(d) FILTER (WHERE d > 0), 0)
        FROM snapshot_patch_delta"""
    ).fetchone()
    rows = int(old_rows + delta)
    total = (int(old_total or 0) + int(delta_total)) if rows else None
    if deleted:  # that many copies of each masked row whose count went down: the first ones, by rowid
        con.execute(
            f"""DELETE FROM {dest} WHERE rowid IN (
                SELECT x.r FROM (
                    SELECT rowid AS r, hash({row}) AS h,
                           row_number() OVER (PARTITION BY hash({row}) ORDER BY rowid) AS k
                    FROM {dest} WHERE hash({row}) IN (SELECT h FROM snapshot_patch_delta WHERE d < 0)) AS x
                JOIN snapshot_patch_delta AS dl ON x.h = dl.h WHERE x.k <= -dl.d)"""
        )
    con.execute(  # that many masked rows of each masked row whose count went up, in their hash order
        # (equal hashes: equal masked rows), so the table's row order does not vary with DuckDB's threads
        f"""CREATE OR REPLACE TEMP TABLE snapshot_patch_inserted AS
        SELECT {masked_row} FROM (
            SELECT *, row_number() OVER (PARTITION BY {MASKED_HASH}) AS {ROW_HASH}_k
            FROM snapshot_patch_masked) AS m
        JOIN snapshot_patch_delta AS dl ON m.{MASKED_HASH} = dl.h
        WHERE dl.d > 0 AND m.{ROW_HASH}_k <= dl.d
        ORDER BY m.{MASKED_HASH}"""
    )
    if inserted:
        con.execute(f"INSERT INTO {dest} SELECT * FROM snapshot_patch_inserted")
    content = _verified(con, dest, columns, rows, total)
    if content is None:
        return _TOUCHED if deleted or inserted else None
    con.execute(f"DELETE FROM {state} WHERE sh IN (SELECT sh FROM snapshot_patch_changed)")
    con.execute(
        f"""INSERT INTO {state}
        SELECT c.sh, coalesce(c.old_h, m.h), c.new_n
        FROM snapshot_patch_changed AS c LEFT JOIN snapshot_patch_masked_hashes AS m ON c.sh = m.sh
        WHERE c.new_n > 0"""
    )
    _save_state_meta(con, kept, rows, total)
    (masked,) = con.execute("SELECT count(*) FROM snapshot_patch_masked").fetchone()
    return {"deleted": int(deleted), "inserted": int(inserted), "masked": int(masked)}, content
