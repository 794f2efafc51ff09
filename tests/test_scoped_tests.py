"""Data tests scoped to the keys built since they last passed (dbt_project/macros/untested_keys.sql).

The per-cutoff unique tests and the task chain's unique task_id tests read only the keys their model
built since the tests last passed, kept in test_scope.<schema>__<model>. Real dbt on the hand-made
firm of tests/test_incremental_nights.py (its nights 1 and 2), only the models the scoped tests need:

  night 1 (build, the full path): no key table yet, so every row is tested; the passing tests leave
          an empty table per model.
  night 2 (run): the tables hold exactly the cutoffs and tasks whose fingerprint changed.
  a duplicate in a cutoff built tonight and one in a kept cutoff (and a kept task): the scoped tests
          find the first only; failing, they keep their keys, so a rerun (nothing to build) still
          finds it; once it is gone they pass and the keys are cleared.
  --full-refresh drops the table: the next test reads every row again and finds the kept duplicate.
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from tests import dbt_helpers as h
from tests.test_incremental_nights import night_1, night_2

MODELS = ["int_invoices_at_cutoffs", "fct_tasks", "mart_progress_detail"]
CAUTIOUS = ["--indirect-selection", "cautious"]  # no test that reads a model left out
SELECT = [*CAUTIOUS, "--select", *(f"+{m}" for m in MODELS)]
TESTS = [*CAUTIOUS, "--select", *MODELS]  # the tests of these models alone
INVOICES_TEST = "unique_column_set_int_invoices_at_cutoffs_cutoff_date__invoice_id"
KEY_TABLES = {
    "int_invoices_at_cutoffs": "test_scope.intermediate__int_invoices_at_cutoffs",
    "fct_tasks": "test_scope.core__fct_tasks",
    "mart_progress_detail": "test_scope.marts__mart_progress_detail",
}


def keys(path, table: str) -> set | None:
    with duckdb.connect(str(path), read_only=True) as conn:
        schema, name = table.split(".")
        if not conn.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
        ).fetchone()[0]:
            return None
        return {r[0] for r in conn.execute(f"select * from {table}").fetchall()}


def fingerprints(path) -> tuple[dict, dict]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return (
            dict(conn.execute("select * from intermediate.int_cutoff_input_fingerprints").fetchall()),
            dict(conn.execute("select * from intermediate.int_task_fingerprints").fetchall()),
        )


def dbt_test_results(target) -> dict[str, tuple[str, int]]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].split(".")[2]: (r["status"], r["failures"])
        for r in results
        if r["unique_id"].startswith("test.")
    }


def invoices_test_sql(target) -> str:
    """The SQL the per-cutoff unique test of int_invoices_at_cutoffs ran (dbt shortens the file name)."""
    return next((target / "run").rglob("unique_column_set_int_invoices_*.sql")).read_text()


def dbt_test(path, as_of, target) -> dict[str, tuple[str, int]]:
    try:
        h.run_dbt(["test", *TESTS], path, as_of, target)
    except h.DbtRunError:
        pass  # a failing test: the results say which
    return dbt_test_results(target)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scoped_tests")
    path = tmp / "warehouse.duckdb"
    conn = h.new_raw_warehouse(path)
    night_1(conn)
    conn.close()
    return tmp, path


def test_scoped_tests_read_the_keys_built_since_they_passed(warehouse):
    tmp, path = warehouse
    # night 1: the full path, no key table while the tests run, so they read every row
    h.run_dbt(["build", *SELECT], path, "2024-06-28", tmp / "t1")
    assert "test_scope" not in invoices_test_sql(tmp / "t1")
    assert {m: keys(path, t) for m, t in KEY_TABLES.items()} == {m: set() for m in KEY_TABLES}
    cutoffs_1, tasks_1 = fingerprints(path)

    # night 2: the key tables hold what the night built, i.e. what changed (checked by fingerprints)
    with duckdb.connect(str(path)) as conn:
        night_2(conn)
    h.run_dbt(["run", *SELECT], path, "2024-06-29", tmp / "t2")
    cutoffs_2, tasks_2 = fingerprints(path)
    changed_cutoffs = {c for c, f in cutoffs_2.items() if cutoffs_1.get(c) != f}
    changed_tasks = {t for t, f in tasks_2.items() if tasks_1.get(t) != f}
    # I2 re-sent (issued 03-05): March to May; P7 (05-20): May; the new date
    assert changed_cutoffs == {dt.date(2024, m, d) for m, d in ((3, 31), (4, 30), (5, 31), (6, 29))}
    assert 0 < len(changed_tasks) < len(tasks_2)
    with duckdb.connect(str(path), read_only=True) as conn:
        with_rows = {r[0] for r in conn.execute(
            "select distinct cutoff_date from intermediate.int_invoices_at_cutoffs").fetchall()}  # fmt: skip
    # a cutoff without invoices has no row that could say it was built: it is computed every night
    built_cutoffs = changed_cutoffs | (set(cutoffs_2) - with_rows)
    assert dt.date(2024, 2, 29) in with_rows - built_cutoffs  # a kept cutoff with rows
    assert keys(path, KEY_TABLES["int_invoices_at_cutoffs"]) == built_cutoffs
    assert keys(path, KEY_TABLES["fct_tasks"]) == changed_tasks
    # the detail computes the same tasks; T6 (cancelled tonight) yields no row but is computed
    assert "T6" in changed_tasks
    assert keys(path, KEY_TABLES["mart_progress_detail"]) == changed_tasks

    # a duplicate in a cutoff built tonight and one in a kept cutoff; a kept task duplicated
    with duckdb.connect(str(path)) as conn:
        for day in ("2024-06-29", "2024-02-29"):
            conn.execute(
                "insert into intermediate.int_invoices_at_cutoffs select * from"
                f" intermediate.int_invoices_at_cutoffs where cutoff_date = '{day}' limit 1"
            )
        conn.execute("insert into core.fct_tasks select * from core.fct_tasks where task_id = 'T16'")
    assert "T16" not in changed_tasks
    results = dbt_test(path, "2024-06-29", tmp / "t3")
    assert results[INVOICES_TEST] == ("fail", 1)  # the kept cutoff's duplicate is not read
    assert '"test_scope"."intermediate__int_invoices_at_cutoffs"' in invoices_test_sql(tmp / "t3")
    assert results["unique_fct_tasks_task_id"] == ("pass", 0)
    assert keys(path, KEY_TABLES["int_invoices_at_cutoffs"]) == built_cutoffs  # kept: a test failed
    assert keys(path, KEY_TABLES["fct_tasks"]) == set()  # every scoped test of fct_tasks passed

    # a rerun of the night builds nothing; its tests still read the keys of the failed test
    h.run_dbt(["run", "--select", "int_invoices_at_cutoffs"], path, "2024-06-29", tmp / "t4")
    assert keys(path, KEY_TABLES["int_invoices_at_cutoffs"]) == built_cutoffs
    assert dbt_test(path, "2024-06-29", tmp / "t5")[INVOICES_TEST] == ("fail", 1)

    # the duplicate of tonight's cutoff repaired: the tests pass and the keys are cleared
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "delete from intermediate.int_invoices_at_cutoffs where cutoff_date = '2024-06-29'"
            " and rowid = (select max(rowid) from intermediate.int_invoices_at_cutoffs"
            " where cutoff_date = '2024-06-29')"
        )
    results = dbt_test(path, "2024-06-29", tmp / "t6")
    assert results[INVOICES_TEST] == ("pass", 0)
    assert keys(path, KEY_TABLES["int_invoices_at_cutoffs"]) == set()

    # the full path drops the key table: the next test reads every row and finds the kept duplicate
    refresh = ["run", "--full-refresh", "--select", "int_invoices_at_cutoffs"]
    h.run_dbt(refresh, path, "2024-06-29", tmp / "t7")
    assert keys(path, KEY_TABLES["int_invoices_at_cutoffs"]) is None
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "insert into intermediate.int_invoices_at_cutoffs select * from"
            " intermediate.int_invoices_at_cutoffs where cutoff_date = '2024-02-29' limit 1"
        )
    results = dbt_test(path, "2024-06-29", tmp / "t8")
    assert results[INVOICES_TEST] == ("fail", 1)
    assert keys(path, KEY_TABLES["int_invoices_at_cutoffs"]) is None  # still unverified: no table
