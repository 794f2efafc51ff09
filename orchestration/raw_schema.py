"""DuckDB DDL of the raw layer, derived from the contract (see docs/architecture.md)."""

from __future__ import annotations

from orchestration.contract import (
    AMOUNT,
    BOOLEAN,
    DATE,
    ENTITIES,
    INTEGER,
    NUMBER,
    TIMESTAMP,
)

DUCKDB_TYPES = {
    DATE: "DATE",
    TIMESTAMP: "TIMESTAMP",
    AMOUNT: "DECIMAL(18,2)",
    INTEGER: "INTEGER",
    NUMBER: "DOUBLE",
    BOOLEAN: "BOOLEAN",
}

LINEAGE_COLUMNS = [("_source_file", "VARCHAR"), ("_source_line", "INTEGER"), ("_extra", "JSON")]

BOOKKEEPING_DDL = {
    "load_files": """
        load_id VARCHAR, as_of_date DATE, entity VARCHAR, source_file VARCHAR, file_order INTEGER,
        file_format VARCHAR, encoding VARCHAR, status VARCHAR, message VARCHAR,
        rows_read BIGINT, rows_accepted BIGINT, rows_rejected BIGINT, rows_superseded BIGINT""",
    "load_rejects": """
        load_id VARCHAR, entity VARCHAR, source_file VARCHAR, source_line INTEGER, reason VARCHAR,
        raw_record JSON""",
    "load_runs": """
        load_id VARCHAR, as_of_date DATE, entity VARCHAR, files INTEGER, rows_read BIGINT,
        rows_accepted BIGINT, rows_rejected BIGINT, rows_unique BIGINT, max_updated_at TIMESTAMP,
        loaded_at TIMESTAMP""",
    # Per file of the entity's current raw table: what the incremental load needs to skip a file
    # unchanged since it was read (sha256, the rules and plausible-date bounds it was checked with,
    # the range of dates it holds) and the load that read it. Replaced with the entity's load. Dates:
    # the file's earliest date, its latest date within the upper bound, its earliest date beyond it.
    # file_stat: its stat before it was read, when settled (loading/incremental.py: skipped unread).
    "load_file_state": """
        entity VARCHAR, source_file VARCHAR, size_bytes BIGINT, checksum VARCHAR, read_load_id VARCHAR,
        rules_version VARCHAR, date_lower DATE, date_upper DATE, date_min_seen DATE,
        date_max_in_range DATE, date_min_above DATE,
        rows_read BIGINT, rows_accepted BIGINT, rows_rejected BIGINT, rows_superseded BIGINT,
        file_format VARCHAR, encoding VARCHAR, message VARCHAR, file_stat VARCHAR""",
    # Accepted rows that deserve a look, recomputed for the entity at every load (contract 1.1:
    # `updated_at` later than the as-of date is accepted and reported as a warning).
    "load_warnings": """
        load_id VARCHAR, as_of_date DATE, entity VARCHAR, check_name VARCHAR, source_file VARCHAR,
        source_line INTEGER, record_key VARCHAR, detail VARCHAR""",
}

# Columns added to a bookkeeping table after it first shipped (last in its DDL, so the order agrees).
ADDED_COLUMNS = {"load_file_state": [("file_stat", "VARCHAR")]}


def column_types(entity: str) -> list[tuple[str, str]]:
    """(name, duckdb type) of an entity's raw table, lineage columns last."""
    cols = [(c.name, DUCKDB_TYPES.get(c.type, "VARCHAR")) for c in ENTITIES[entity].columns]
    return cols + LINEAGE_COLUMNS


def create_table_sql(entity: str, table: str | None = None) -> str:
    body = ",\n    ".join(f'"{n}" {t}' for n, t in column_types(entity))
    return f"CREATE OR REPLACE TABLE {table or 'raw.' + entity} (\n    {body}\n)"


def create_raw_schema(conn) -> None:
    """Create the raw schema with empty entity and bookkeeping tables (idempotent for bookkeeping)."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for entity in ENTITIES:
        conn.execute(
            create_table_sql(entity).replace("CREATE OR REPLACE TABLE", "CREATE TABLE IF NOT EXISTS")
        )
    for name, ddl in BOOKKEEPING_DDL.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS raw.{name} ({ddl})")
    for name, columns in ADDED_COLUMNS.items():  # tables of older warehouses gain their new columns
        have = {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
                " AND schema_name = 'raw' AND table_name = ?",
                [name],
            ).fetchall()
        }
        for column, type_ in columns:
            if column not in have:
                conn.execute(f"ALTER TABLE raw.{name} ADD COLUMN {column} {type_}")
