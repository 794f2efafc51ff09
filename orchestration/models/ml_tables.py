"""The `ml` schema tables the Python models write and dbt reads as source('ml', ...).

dbt creates the same tables empty when missing (macro `create_ml_tables`, on-run-start) so a
dbt-only build works before any model ran; keep both definitions in step (a test writes model
output into the tables dbt created).
"""

from __future__ import annotations

import duckdb
import pandas as pd

TABLES: dict[str, dict[str, str]] = {
    "renewal_scores": {
        "as_of_date": "DATE",
        "contract_id": "VARCHAR",
        "client_id": "VARCHAR",
        "end_date": "DATE",
        "renewal_probability": "DOUBLE",
        "is_renewed": "BOOLEAN",
        "model_name": "VARCHAR",
    },
    "renewal_model_evaluation": {
        "as_of_date": "DATE",
        "cutoff_date": "DATE",
        "model_name": "VARCHAR",
        "metric": "VARCHAR",
        "bin": "INTEGER",
        "value": "DOUBLE",
    },
    "collection_forecast": {
        "as_of_date": "DATE",
        "cutoff_date": "DATE",
        "horizon": "VARCHAR",
        "period_start": "DATE",
        "period_end": "DATE",
        "scope_type": "VARCHAR",
        "scope_id": "VARCHAR",
        "open_invoice_amount": "DOUBLE",
        "scheduled_invoice_amount": "DOUBLE",
        "new_business_amount": "DOUBLE",
        "expected_amount": "DOUBLE",
        "low_amount": "DOUBLE",
        "high_amount": "DOUBLE",
        "band_pct": "DOUBLE",
    },
    "collection_forecast_backtest": {
        "as_of_date": "DATE",
        "period": "VARCHAR",
        "cutoff_date": "DATE",
        "forecast_amount": "DOUBLE",
        "low_amount": "DOUBLE",
        "high_amount": "DOUBLE",
        "actual_amount": "DOUBLE",
    },
}


def ddl(name: str) -> str:
    cols = ", ".join(f'"{c}" {t}' for c, t in TABLES[name].items())
    return f"CREATE TABLE IF NOT EXISTS ml.{name} ({cols})"


def evolve(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """Create ml.<name>, or add the columns declared since an existing warehouse was built."""
    conn.execute(ddl(name))
    for col, typ in TABLES[name].items():
        conn.execute(f'ALTER TABLE ml.{name} ADD COLUMN IF NOT EXISTS "{col}" {typ}')


def write_table(conn: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> int:
    """Replace the rows of ml.<name> with `frame` (columns by name, cast to the declared types)."""
    cols = list(TABLES[name])
    conn.execute("CREATE SCHEMA IF NOT EXISTS ml")
    evolve(conn, name)
    conn.register("ml_frame", frame.reindex(columns=cols))
    select = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in TABLES[name].items())
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
