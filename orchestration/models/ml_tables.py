"""The `ml` schema tables: the renewal model's dbt Python models (dbt_project/models/ml).

Declared once: those models and their typed columns in models/ml/_ml.yml. The models cast their
frames to it (`typed`); dbt creates the tables empty from it on a run that leaves the models out
(macro `create_ml_tables`, on-run-start); tests that provide the model's output themselves write it
with `write_table`.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import yaml

from orchestration.code_state import SAFE_LOADER
from orchestration.settings import DBT_PROJECT_DIR

if TYPE_CHECKING:  # pandas is imported by the models that build the frames, not with the definitions
    import pandas as pd


DECLARATION = Path(DBT_PROJECT_DIR) / "models" / "ml" / "_ml.yml"


@functools.cache
def _declaration() -> dict[str, dict]:
    doc = yaml.load(DECLARATION.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
    models = {model["name"]: model for model in doc.get("models") or []}
    if not models:
        raise LookupError(f"no ml models declared in {DECLARATION}")
    return models


def columns(name: str) -> dict[str, str]:
    """Column name → DuckDB type of ml.<name>, in declared order."""
    return {c["name"]: c["data_type"].upper() for c in _declaration()[name]["columns"]}


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


def as_of_date() -> dt.date:
    """A Python model's as-of date: DBT_AS_OF_DATE, which the night (and the tests' dbt runs) set for dbt.
    A Python model sees no dbt var when it runs, and a var in its config would be the value the project
    was parsed with (the parse must not depend on the date: macros/as_of.sql)."""
    value = os.environ.get("DBT_AS_OF_DATE", "").strip()
    if not value:
        raise ValueError(
            "the renewal model's dbt Python models need DBT_AS_OF_DATE=YYYY-MM-DD (缺少 as_of_date 参数)"
        )
    return dt.date.fromisoformat(value)


def typed(conn: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> duckdb.DuckDBPyRelation:
    """`frame` as a relation with ml.<name>'s declared columns and types, for a dbt Python model to
    return (dbt-duckdb materializes it on the same connection)."""
    return conn.sql(_typed_select(conn, name, frame))


def _typed_select(conn: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> str:
    """A SELECT of `frame` (registered as the view `_frame_view(name)`) cast to ml.<name>'s declared
    columns and types, by name."""
    declared = columns(name)
    conn.register(_frame_view(name), frame.reindex(columns=list(declared)))
    casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in declared.items())
    return f"SELECT {casts} FROM {_frame_view(name)}"


def _frame_view(name: str) -> str:
    return f"ml_frame_{name}"


def write_table(conn: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> int:
    """Replace the rows of ml.<name> with `frame` (columns by name, cast to the declared types): how
    tests put a hand-made or directly computed model output in place of the dbt Python model's."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS ml")
    evolve(conn, name)
    select = _typed_select(conn, name, frame)
    conn.execute("BEGIN")
    try:
        conn.execute(f"DELETE FROM ml.{name}")
        conn.execute(f"INSERT INTO ml.{name} BY NAME {select}")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister(_frame_view(name))
    return len(frame)
