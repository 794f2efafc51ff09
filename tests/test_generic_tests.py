"""The project's override of dbt's generic `unique` test (dbt_project/macros/tests_generic.sql), its
`not_null_columns` test (dbt_project/tests/generic/not_null_columns.sql: a model's not-null columns in
one node) and its `accepted_values_columns` test (tests/generic/accepted_values_columns.sql: a model's
accepted-values columns in one node, dbt's accepted_values semantics).

A small dbt project of its own (the real macro file, a good and a bad table) run by the real dbt CLI:
on the good table every generic test passes; on the bad one each fails with the number of rows found
by hand, and the override's failing rows equal those of dbt's own SQL run on the same table. The
failure report reads them as it reads a night's (record_failures), and a failed test fails the
build (dbt exits non-zero), which is what holds a night's publication back (assets/dbt.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration.quality.dbt_tests import record_failures
from orchestration.settings import DBT_PROJECT_DIR
from tests.dbt_helpers import DBT_EXECUTABLE

MACRO = DBT_PROJECT_DIR / "macros" / "tests_generic.sql"
NOT_NULL_COLUMNS = DBT_PROJECT_DIR / "tests" / "generic" / "not_null_columns.sql"
ACCEPTED_VALUES_COLUMNS = DBT_PROJECT_DIR / "tests" / "generic" / "accepted_values_columns.sql"
D1, D2 = "date '2026-01-01'", "date '2026-01-02'"
GOOD = [
    (D1, "'A1'", "'C1'", "'open'"),
    (D2, "'A2'", "'C1'", "'paid'"),
    ("null", "'A3'", "'C2'", "'open'"),
    (D1, "null", "'C2'", "'open'"),
]
BAD = [
    (D1, "'A1'", "'C1'", "'open'"),
    (D1, "'A1'", "'C1'", "'open'"),  # (d1, A1) twice; A1|C1 three times with the next row
    (D2, "'A1'", "'C1'", "'paid'"),
    ("null", "'A2'", "'C9'", "'lost'"),  # orphan client C9, status outside the accepted values
    ("null", "'A2'", "'C2'", "null"),  # (null, A2) twice: dbt's tuple key is a struct, never null
    (D1, "null", "null", "'open'"),
    (D1, "null", "'C2'", "'open'"),  # (d1, null) twice; a null id is not a duplicate of the plain key
]
TESTS = """
      - name: id
        data_tests: [unique]
      - name: status
        data_tests: [not_null, {accepted_values: {arguments: {values: [open, paid]}}}]
      - name: client_id
        data_tests: [{relationships: {arguments: {to: ref('clients'), field: client_id}}}]
    data_tests:
      - not_null_columns: {arguments: {column_names: [status, client_id]}}
      - accepted_values_columns: {arguments: {columns: {status: [open, paid], client_id: [C1, C2]}}}
      - unique: {column_name: "(cutoff_date, id)"}
      - unique: {column_name: "id || '|' || client_id"}
"""
EXPRESSIONS = [("_cutoff_date_id_", "(cutoff_date, id)"), ("id_client_id", "id || '|' || client_id")]
# dbt's own SQL of its generic unique test (dbt/include/global_project/macros/generic_test_sql/unique.sql)
DBT_UNIQUE = """select {c} as unique_field, count(*) as n_records from {m} where {c} is not null
group by {c} having count(*) > 1"""
# and of its accepted_values test (.../generic_test_sql/accepted_values.sql, quote: true)
DBT_ACCEPTED = """with all_values as (select {c} as value_field, count(*) as n_records from {m} group by {c})
select * from all_values where value_field not in ({v})"""


def _rows_sql(rows) -> str:
    values = ",\n".join(f"({', '.join(r)})" for r in rows)
    return f"select * from (values\n{values}\n) as t (cutoff_date, id, client_id, status)\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("generic_tests")
    (root / "macros").mkdir()
    shutil.copy(MACRO, root / "macros" / MACRO.name)
    shutil.copy(NOT_NULL_COLUMNS, root / "macros" / NOT_NULL_COLUMNS.name)
    shutil.copy(ACCEPTED_VALUES_COLUMNS, root / "macros" / ACCEPTED_VALUES_COLUMNS.name)
    (root / "models").mkdir()
    (root / "models" / "good_rows.sql").write_text(_rows_sql(GOOD))
    (root / "models" / "bad_rows.sql").write_text(_rows_sql(BAD))
    (root / "models" / "clients.sql").write_text("select * from (values ('C1'), ('C2')) as t (client_id)\n")
    (root / "models" / "schema.yml").write_text(
        "version: 2\nmodels:\n"
        + "".join(f"  - name: {m}\n    columns:{TESTS}" for m in ("good_rows", "bad_rows"))
    )
    (root / "dbt_project.yml").write_text(
        "name: generic_tests\nversion: '1.0'\nprofile: generic_tests\nmodel-paths: [models]\n"
        "macro-paths: [macros]\nmodels:\n  generic_tests:\n    +materialized: table\n"
    )
    (root / "profiles.yml").write_text(
        "generic_tests:\n  target: t\n  outputs:\n    t:\n      type: duckdb\n"
        f"      path: {root / 'w.duckdb'}\n      threads: 1\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    done = subprocess.run(
        [str(DBT_EXECUTABLE), "build", "--profiles-dir", str(root), "--project-dir", str(root)],
        env=env, cwd=root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    return root, {"returncode": done.returncode, "output": done.stdout, "results": results}


def _tests(results: list[dict], model: str) -> dict[str, dict]:
    """{test name without the model: result} of one model's generic tests."""
    out = {}
    for r in results:
        name = r["unique_id"].split(".")[2]
        if r["unique_id"].startswith("test.") and f"_{model}_" in name:
            out[name.split(f"_{model}_")[0] + "|" + name.split(f"_{model}_")[1]] = r
    return out


def test_every_generic_test_passes_on_good_rows(built):
    _, run = built
    good = _tests(run["results"], "good_rows")
    assert len(good) == 8
    assert {k: (r["status"], r["failures"]) for k, r in good.items()} == dict.fromkeys(good, ("pass", 0))


def test_each_generic_test_fails_on_bad_rows_with_the_rows_counted_by_hand(built):
    _, run = built
    bad = _tests(run["results"], "bad_rows")
    assert {k: (r["status"], r["failures"]) for k, r in bad.items()} == {
        "unique|id": ("fail", 2),  # A1 x3, A2 x2
        "unique|_cutoff_date_id_": ("fail", 3),  # (d1, A1), (null, A2), (d1, null)
        "unique|id_client_id": ("fail", 1),  # A1|C1 x3
        "not_null|status": ("fail", 1),
        "not_null_columns|status__client_id": ("fail", 2),  # one NULL cell per column, in two rows
        "accepted_values|status__open__paid": ("fail", 1),  # lost
        "accepted_values_columns|_open_paid____C1_C2_": ("fail", 2),  # lost, C9 (NULL is no failure)
        "relationships|client_id__client_id__ref_clients_": ("fail", 1),  # C9
    }
    assert run["returncode"] != 0  # a failed test fails the build: the night's gate


def test_the_override_returns_dbt_own_failing_rows(built):
    root, run = built
    bad = _tests(run["results"], "bad_rows")
    with duckdb.connect(str(root / "w.duckdb"), read_only=True) as conn:
        table = conn.execute(
            "select table_schema from information_schema.tables where table_name = 'bad_rows'"
        )
        model = f"{table.fetchone()[0]}.bad_rows"
        for key, column in [
            ("_cutoff_date_id_", "(cutoff_date, id)"),
            ("id_client_id", "id || '|' || client_id"),
        ]:
            sql = bad[f"unique|{key}"]["compiled_code"]
            assert "duplicated_hashes" in sql  # the override ran, not dbt's SQL
            ours = sorted(conn.execute(sql).fetchall(), key=str)
            assert ours == sorted(conn.execute(DBT_UNIQUE.format(c=column, m=model)).fetchall(), key=str)
        assert "duplicated_hashes" not in bad["unique|id"]["compiled_code"]  # a plain column: dbt's SQL
        assert sorted(conn.execute(bad["unique|id"]["compiled_code"]).fetchall()) == [("A1", 3), ("A2", 2)]
        rows = sorted(conn.execute(bad["unique|id_client_id"]["compiled_code"]).fetchall())
        assert rows == [("A1|C1", 3)]
        # accepted_values_columns: per column, dbt's own accepted_values rows (NULL skipped), one statement
        folded = bad["accepted_values_columns|_open_paid____C1_C2_"]["compiled_code"]
        ours = conn.execute(f"select * from ({folded}) order by all").fetchall()
        assert ours == [("client_id", "C9", 1), ("status", "lost", 1)]
        for column, values in [("status", "'open', 'paid'"), ("client_id", "'C1', 'C2'")]:
            theirs = conn.execute(DBT_ACCEPTED.format(c=column, m=model, v=values)).fetchall()
            assert [(column, *row) for row in theirs] == [row for row in ours if row[0] == column]


def test_the_failure_report_reads_the_override_as_it_reads_dbt_own_sql(built, tmp_path):
    """record_failures (the night's failure report) names the same tests, counts and example keys when
    the failed tests' compiled SQL is the override as when it is dbt's own."""
    root, _ = built
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    shutil.copytree(root / "target", ours)
    shutil.copytree(root / "target", theirs)
    results = json.loads((theirs / "run_results.json").read_text())
    model = '"w"."main"."bad_rows"'
    for r in results["results"]:
        for key, column in [
            ("_cutoff_date_id_", "(cutoff_date, id)"),
            ("id_client_id", "id || '|' || client_id"),
        ]:
            if r["unique_id"].split(".")[2] == f"unique_bad_rows_{key}":
                assert model in r["compiled_code"]
                r["compiled_code"] = DBT_UNIQUE.format(c=column, m=model)
    (theirs / "run_results.json").write_text(json.dumps(results))
    read = [record_failures(folder, root / "w.duckdb") for folder in (ours, theirs)]
    assert read[0] == read[1]
    compound = {r["name_en"]: r for r in read[0]}["unique_bad_rows__cutoff_date_id_"]
    assert (compound["severity"], compound["count"], compound["name_zh"]) == ("error", 3, "dbt 测试：唯一")
    assert "examples_error" not in compound and len(compound["examples"]) == 3
    assert {r["name_en"]: r for r in read[0]}["unique_bad_rows_id_client_id"]["examples"] == [
        "unique_field=A1|C1"
    ]
    # not_null_columns: one node for two columns; the examples name the row's key and its NULL column
    folded = {r["name_en"]: r for r in read[0]}["not_null_columns_bad_rows_status__client_id"]
    assert (folded["severity"], folded["count"], folded["name_zh"]) == ("error", 2, "dbt 测试：非空")
    assert folded["examples"] == ["id=A2（status=NULL）", "id=NULL（client_id=NULL）"]
    # accepted_values_columns: one node for two columns; the examples name the key, the column and the
    # value outside the accepted ones, as dbt's own accepted_values test on one column is reported
    by_name = {r["name_en"]: r for r in read[0]}
    values = by_name["accepted_values_columns_bad_rows__open_paid____C1_C2_"]
    assert (values["severity"], values["count"], values["name_zh"]) == ("error", 2, "dbt 测试：取值范围")
    assert values["examples"] == ["id=A2（client_id=C9）", "id=A2（status=lost）"]
    single = by_name["accepted_values_bad_rows_status__open__paid"]
    assert (single["name_zh"], single["examples"]) == ("dbt 测试：取值范围", ["id=A2（status=lost）"])
