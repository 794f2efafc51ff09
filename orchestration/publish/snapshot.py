"""Build the published snapshot: a new DuckDB file with the public tables, masked, plus Parquet copies.

The snapshot is written in DuckDB's v1.0.0 storage format (`storage_compatibility_version`), so every
DuckDB 1.x client (Evidence's driver, DBeaver, BI tools) opens it, whatever DuckDB built it. Tables and
columns carry the dbt yml descriptions as comments (COMMENT ON), so BI users see the glossary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.publish.masking import install_macros, masked_select, quote

DEFAULT_SCHEMAS = ("marts",)
# Load bookkeeping for the data-quality pages and BI (rejects are masked by pattern like any text).
DEFAULT_TABLES = ("raw.load_files", "raw.load_rejects", "raw.load_runs")
SOURCE_ALIAS = "warehouse_src"
STORAGE_COMPATIBILITY = "v1.0.0"  # readable by DuckDB >= 1.0 (storage version number 64)

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

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass
class Snapshot:
    tables: list[PublishedTable] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)


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
) -> Snapshot:
    """Copy the public tables from `warehouse` (attached read-only) into a fresh `snapshot_path`,
    masked on the way, export each to `parquet_dir/<schema>.<table>.parquet`, checkpoint and close."""
    if snapshot_path.exists():
        raise FileExistsError(snapshot_path)
    parquet_dir.mkdir(parents=True, exist_ok=True)
    snap = Snapshot()
    con = duckdb.connect(str(snapshot_path), config={"storage_compatibility_version": STORAGE_COMPATIBILITY})
    try:
        con.execute(f"ATTACH {_sql_str(str(warehouse))} AS {SOURCE_ALIAS} (READ_ONLY)")
        install_macros(con)
        chosen, snap.missing_tables = _source_tables(con, tuple(schemas), tuple(tables))
        if not any(s in schemas for s, _ in chosen):
            raise ValueError(f"nothing to publish: no table in schema(s) {', '.join(schemas)} of {warehouse}")
        for schema in sorted({s for s, _ in chosen}):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        for schema, table in chosen:
            src = f"{SOURCE_ALIAS}.{quote(schema)}.{quote(table)}"
            cols = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
            select, by_name, by_pattern = masked_select(cols)
            dest = f"{quote(schema)}.{quote(table)}"
            con.execute(f"CREATE TABLE {dest} AS SELECT {select} FROM {src}")
            _comment(con, dest, (descriptions or {}).get((schema, table)))
            rows = con.execute(f"SELECT count(*) FROM {dest}").fetchone()[0]
            out_cols = con.execute(f"DESCRIBE {dest}").fetchall()
            parquet = parquet_dir / f"{schema}.{table}.parquet"
            con.execute(f"COPY {dest} TO {_sql_str(str(parquet))} (FORMAT parquet, COMPRESSION zstd)")
            snap.tables.append(
                PublishedTable(
                    schema=schema,
                    table=table,
                    rows=rows,
                    columns=[{"name": c[0], "type": c[1]} for c in out_cols],
                    masked_by_name=by_name,
                    masked_by_pattern=by_pattern,
                    parquet=f"{parquet_dir.name}/{parquet.name}",
                )
            )
        con.execute(f"DETACH {SOURCE_ALIAS}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wal = snapshot_path.with_name(snapshot_path.name + ".wal")
    if wal.exists():  # a clean close after CHECKPOINT leaves none; a reader must need only the one file
        raise RuntimeError(f"snapshot left a WAL file behind: {wal}")
    return snap
