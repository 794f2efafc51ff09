"""Build the published snapshot: a new DuckDB file with the public tables, masked, plus Parquet copies.

The snapshot is written in DuckDB's v1.0.0 storage format (`storage_compatibility_version`), so every
DuckDB 1.x client (Evidence's driver, DBeaver, BI tools) opens it, whatever DuckDB built it. Tables and
columns carry the dbt yml descriptions as comments (COMMENT ON), so BI users see the glossary.

Cost at scale: the connection has a memory limit (spilling to a temp folder beyond it). Each table's
source is fingerprinted first (fingerprint.py, with this code's recipe hashed in); when the previous
version published the same source (`reuse`), its Parquet file is hard-linked instead of written and
the snapshot table is filled from it instead of being masked again, then checked to be exactly the
table published before (its fingerprint); anything else is built from the source.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.publish import masking
from orchestration.publish.fingerprint import fingerprint
from orchestration.publish.masking import install_macros, is_internal_column, masked_select, quote

DEFAULT_SCHEMAS = ("marts",)
# Load bookkeeping for the data-quality pages and BI (rejects are masked by pattern like any text).
DEFAULT_TABLES = ("raw.load_files", "raw.load_rejects", "raw.load_runs")
SOURCE_ALIAS = "warehouse_src"
STORAGE_COMPATIBILITY = "v1.0.0"  # readable by DuckDB >= 1.0 (storage version number 64)
DEFAULT_MEMORY_LIMIT = "2GB"  # settings.publish_memory_limit's default
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd"

# (schema, table) -> (table description, {column: description})
Descriptions = dict[tuple[str, str], tuple[str, dict[str, str]]]


@dataclass
class PublishedTable:
    schema: str
    table: str
    rows: int
    columns: list[dict]
    masked_by_name: list[str]
    masked_by_pattern: list[str]
    parquet: str = ""
    source_fingerprint: str = ""  # the source table's content + the code that publishes it
    fingerprint: str = ""  # the published (masked) table's content
    reused: bool = False  # Parquet hard-linked from the previous version, table filled from it

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass
class Snapshot:
    tables: list[PublishedTable] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reusable:
    """A table the previous version published: from which source, as what, and its sealed Parquet."""

    source_fingerprint: str
    fingerprint: str
    parquet: Path


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


def dbt_descriptions(manifest_path: Path) -> Descriptions:
    """Table and column descriptions of every dbt model and source, from dbt's manifest.json."""
    try:
        manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: Descriptions = {}
    for node in [*manifest.get("nodes", {}).values(), *manifest.get("sources", {}).values()]:
        if node.get("resource_type") not in ("model", "seed", "snapshot", "source"):
            continue
        table = node.get("alias") or node.get("identifier") or node.get("name")
        columns = {c: (m.get("description") or "") for c, m in (node.get("columns") or {}).items()}
        out[(node.get("schema", ""), table)] = (node.get("description") or "", columns)
    return out


def _comment(con: duckdb.DuckDBPyConnection, dest: str, described: tuple[str, dict[str, str]] | None) -> None:
    if not described:
        return
    table_text, columns = described
    if table_text:
        con.execute(f"COMMENT ON TABLE {dest} IS {_sql_str(table_text)}")
    present = {r[0] for r in con.execute(f"DESCRIBE {dest}").fetchall()}
    for column, text in columns.items():
        if text and column in present:
            con.execute(f"COMMENT ON COLUMN {dest}.{quote(column)} IS {_sql_str(text)}")


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
) -> Snapshot:
    """Copy the public tables from `warehouse` (attached read-only) into a fresh `snapshot_path`,
    masked on the way, export each to `parquet_dir/<schema>.<table>.parquet`, checkpoint and close.
    `reuse` maps `schema.table` to what the previous version published (see the module doc);
    DuckDB keeps to `memory_limit` and spills to `temp_directory` (default: its own, beside the file)."""
    if snapshot_path.exists():
        raise FileExistsError(snapshot_path)
    parquet_dir.mkdir(parents=True, exist_ok=True)
    snap = Snapshot()
    config = {"storage_compatibility_version": STORAGE_COMPATIBILITY, "memory_limit": memory_limit}
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    con = duckdb.connect(str(snapshot_path), config=config)
    try:
        con.execute(f"ATTACH {_sql_str(str(warehouse))} AS {SOURCE_ALIAS} (READ_ONLY)")
        install_macros(con)
        chosen, snap.missing_tables = _source_tables(con, tuple(schemas), tuple(tables))
        if not any(s in schemas for s, _ in chosen):
            raise ValueError(f"nothing to publish: no table in schema(s) {', '.join(schemas)} of {warehouse}")
        for schema in sorted({s for s, _ in chosen}):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        salt = recipe()
        for schema, table in chosen:
            parquet = parquet_dir / f"{schema}.{table}.parquet"
            previous = (reuse or {}).get(f"{schema}.{table}")
            published = _publish_table(con, schema, table, parquet, salt, previous)
            _comment(con, f"{quote(schema)}.{quote(table)}", (descriptions or {}).get((schema, table)))
            published.parquet = f"{parquet_dir.name}/{parquet.name}"
            snap.tables.append(published)
        con.execute(f"DETACH {SOURCE_ALIAS}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wal = snapshot_path.with_name(snapshot_path.name + ".wal")
    if wal.exists():  # a clean close after CHECKPOINT leaves none; a reader must need only the one file
        raise RuntimeError(f"snapshot left a WAL file behind: {wal}")
    return snap


def _publish_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    parquet: Path,
    salt: str,
    previous: Reusable | None,
) -> PublishedTable:
    """One table into the snapshot and its Parquet file: reused from `previous` when its source is
    unchanged and the refilled table is exactly the one published then, else masked from the source."""
    src = f"{SOURCE_ALIAS}.{quote(schema)}.{quote(table)}"
    dest = f"{quote(schema)}.{quote(table)}"
    select, by_name, by_pattern = masked_select(
        [
            (r[0], r[1])
            for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
            if not is_internal_column(r[0])
        ]
    )
    _, source_fp = fingerprint(con, src, salt)
    reused = False
    if previous is not None and previous.source_fingerprint == source_fp and previous.parquet.is_file():
        # the masked table's exact column types, then its rows from the published file
        con.execute(f"CREATE TABLE {dest} AS SELECT {select} FROM {src} LIMIT 0")
        os.link(previous.parquet, parquet)
        try:
            con.execute(f"INSERT INTO {dest} BY NAME SELECT * FROM read_parquet({_sql_str(str(parquet))})")
            rows, published_fp = fingerprint(con, dest)
            reused = published_fp == previous.fingerprint
        except duckdb.Error:
            reused = False
        if not reused:  # e.g. a type the Parquet round trip changes: built as new
            con.execute(f"DROP TABLE {dest}")
            parquet.unlink()
    if not reused:
        con.execute(f"CREATE TABLE {dest} AS SELECT {select} FROM {src}")
        rows, published_fp = fingerprint(con, dest)
        con.execute(f"COPY {dest} TO {_sql_str(str(parquet))} ({PARQUET_OPTIONS})")
    return PublishedTable(
        schema=schema,
        table=table,
        rows=rows,
        columns=[{"name": c[0], "type": c[1]} for c in con.execute(f"DESCRIBE {dest}").fetchall()],
        masked_by_name=by_name,
        masked_by_pattern=by_pattern,
        source_fingerprint=source_fp,
        fingerprint=published_fp,
        reused=reused,
    )
