"""The ml tables the renewal model's dbt Python models build are declared once (models/ml/_ml.yml): dbt
creates exactly the declared columns on a run that leaves the models out, the Python side casts to the
same declaration, and a warehouse built before a column was added is evolved in place by write_table
(the tests' way to provide the model's output), keeping its rows."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from orchestration.models import ml_tables
from orchestration.models.ml_tables import write_table
from tests.dbt_helpers import new_raw_warehouse, run_dbt


def test_declaration_is_the_ml_models_yml():
    assert ml_tables.table_names() == ["renewal_model_evaluation", "renewal_scores"]
    assert ml_tables.columns("renewal_scores")["renewal_probability"] == "DOUBLE"
    assert ml_tables.columns("renewal_model_evaluation")["bin"] == "INTEGER"


def test_as_of_date_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DBT_AS_OF_DATE", "2026-11-20")
    assert ml_tables.as_of_date() == dt.date(2026, 11, 20)
    monkeypatch.delenv("DBT_AS_OF_DATE")
    with pytest.raises(ValueError, match="DBT_AS_OF_DATE"):
        ml_tables.as_of_date()


def test_dbt_creates_the_declared_columns(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    new_raw_warehouse(path).close()
    run_dbt(["run", "--select", "int_cutoff_dates"], path, "2024-06-30", tmp_path / "target")
    with duckdb.connect(str(path)) as conn:
        for name in ml_tables.table_names():
            got = conn.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'ml' and table_name = ? order by ordinal_position",
                [name],
            ).fetchall()
            assert dict(got) == ml_tables.columns(name), name


def test_old_table_is_evolved_by_name(tmp_path):
    declared = ml_tables.columns("renewal_scores")
    old = [c for c in declared if c != "client_id"]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        conn.execute("create schema ml")
        conn.execute(f"create table ml.renewal_scores ({', '.join(f'{c} {declared[c]}' for c in old)})")
        row = {c: None for c in declared} | {
            "as_of_date": dt.date(2024, 6, 30), "contract_id": "K1", "client_id": "C1",
            "renewal_probability": 0.7,
        }  # fmt: skip
        write_table(conn, "renewal_scores", pd.DataFrame([row]))
        got = conn.execute(
            "select contract_id, client_id, renewal_probability from ml.renewal_scores"
        ).fetchall()
        assert got == [("K1", "C1", 0.7)]
        last = conn.execute(
            "select column_name from information_schema.columns where table_name = 'renewal_scores'"
            " order by ordinal_position desc limit 1"
        ).fetchone()[0]
        assert last == "client_id"  # appended, so the insert must be by name
