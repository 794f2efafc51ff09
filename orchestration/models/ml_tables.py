"""The `ml` schema tables the Python models write and dbt reads as source('ml', ...).

Declared once: the dbt source `ml` (its tables, typed columns, and in `meta.inputs` the dbt models a
table is computed from) in the project's yml. dbt creates the tables from that declaration
(macro `create_ml_tables`, on-run-start); this module reads the same declaration to cast and write
the Python models' output and to give their Dagster assets their upstream dbt models.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import yaml

from orchestration.code_state import SAFE_LOADER
from orchestration.settings import DBT_PROJECT_DIR

if TYPE_CHECKING:  # pandas is imported by the models that build the frames, not with the definitions
    import pandas as pd


@functools.cache
def _declaration() -> dict[str, dict]:
    for path in sorted((Path(DBT_PROJECT_DIR) / "models").rglob("*.yml")):
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
        for source in doc.get("sources") or []:
            if source["name"] == "ml":
                return {table["name"]: table for table in source["tables"]}
    raise LookupError(f"no dbt source 'ml' declared under {DBT_PROJECT_DIR}/models")


def columns(name: str) -> dict[str, str]:
    """Column name → DuckDB type of ml.<name>, in declared order."""
    return {c["name"]: c["data_type"].upper() for c in _declaration()[name]["columns"]}


def inputs(name: str) -> list[str]:
    """The dbt models ml.<name> is computed from (meta.inputs of its source table)."""
    return list((_declaration()[name].get("meta") or {}).get("inputs") or [])


def table_names() -> list[str]:
    return list(_declaration())


def ddl(name: str) -> str:
    cols = ", ".join(f'"{c}" {t}' for c, t in columns(name).items())
    return f"CREATE TABLE IF NOT EXISTS ml.{name} ({cols})"


def evolve(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """Create ml.<name>, or add the columns declared since an existing warehouse was built."""
    conn.execute(ddl(name))
    for col, typ in columns(name).items():
        conn.execute(f'ALTER TABLE ml.{name} ADD COLUMN IF NOT EXISTS "{col}" {typ}')


def write_table(conn: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> int:
    """Replace the rows of ml.<name> with `frame` (columns by name, cast to the declared types)."""
    declared = columns(name)
    conn.execute("CREATE SCHEMA IF NOT EXISTS ml")
    evolve(conn, name)
    conn.register("ml_frame", frame.reindex(columns=list(declared)))
    select = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in declared.items())
    conn.execute("BEGIN")
    try:
        conn.execute(f"DELETE FROM ml.{name}")
        conn.execute(f"INSERT INTO ml.{name} BY NAME SELECT {select} FROM ml_frame")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("ml_frame")
    return len(frame)
