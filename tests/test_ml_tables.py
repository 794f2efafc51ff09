"""The ml tables written by the Python models: the dbt macro and ml_tables.py declare the same columns,
and a warehouse built before a column was added is evolved in place, keeping its rows."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from orchestration.models.ml_tables import TABLES, write_table
from tests.dbt_helpers import new_raw_warehouse, run_dbt

OLD_FORECAST_COLUMNS = [c for c in TABLES["collection_forecast"] if c != "new_business_amount"]


def test_dbt_creates_the_declared_columns(tmp_path):
    path = tmp_path / "w.duckdb"
    new_raw_warehouse(path).close()
    run_dbt(["run", "--select", "int_cutoff_dates"], path, "2024-06-30", tmp_path / "target")
    with duckdb.connect(str(path)) as conn:
        for name, cols in TABLES.items():
            got = conn.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'ml' and table_name = ? order by ordinal_position",
                [name],
            ).fetchall()
            assert dict(got) == cols, name


def test_old_forecast_table_is_evolved_by_name(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("create schema ml")
        cols = ", ".join(f"{c} {TABLES['collection_forecast'][c]}" for c in OLD_FORECAST_COLUMNS)
        conn.execute(f"create table ml.collection_forecast ({cols})")
        row = {c: None for c in TABLES["collection_forecast"]}
        row.update(
            as_of_date=dt.date(2024, 6, 30),
            horizon="month_1",
            scope_type="firm",
            scope_id="",
            open_invoice_amount=900.0,
            scheduled_invoice_amount=0.0,
            new_business_amount=60.0,
            expected_amount=960.0,
        )
        write_table(conn, "collection_forecast", pd.DataFrame([row]))
        got = conn.execute(
            "select open_invoice_amount, new_business_amount, expected_amount from ml.collection_forecast"
        ).fetchall()
        assert got == [(900.0, 60.0, 960.0)]
        last = conn.execute(
            "select column_name from information_schema.columns where table_name = 'collection_forecast'"
            " order by ordinal_position desc limit 1"
        ).fetchone()[0]
        assert last == "new_business_amount"  # appended, so the insert must be by name
