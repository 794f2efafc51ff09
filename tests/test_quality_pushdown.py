"""Row-level quality checks pushed down to SQL: same verdicts as GX over the whole table, only the
failing rows leave DuckDB, and the messages still count every row of the table."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.quality import QualityConfig, run_quality_suites
from orchestration.quality.pushdown import violation_predicate, violations_sql
from tests.quality_fixtures import AS_OF, build_warehouse


def _count(conn, rows_sql: str, expectation) -> int:
    return conn.execute(
        f"select count(*) from ({rows_sql}) as t where {violation_predicate(expectation)}"
    ).fetchone()[0]


def test_predicates_follow_gx_semantics():
    """Bounds inclusive unless strict, NULLs never unexpected, a pair with a missing side ignored."""
    conn = duckdb.connect()
    amounts = "select * from (values (0.0), (0.01), (1000000.0), (1000000.01), (NULL), (-5.0)) t(amount)"
    between = (
        "ExpectColumnValuesToBeBetween",
        {"column": "amount", "min_value": 0, "max_value": 1_000_000.0},
    )
    assert _count(conn, amounts, between) == 2  # 1000000.01 and -5
    strict = ("ExpectColumnValuesToBeBetween", {**between[1], "strict_min": True})
    assert _count(conn, amounts, strict) == 3  # and 0
    open_top = ("ExpectColumnValuesToBeBetween", {"column": "amount", "min_value": 0, "max_value": None})
    assert _count(conn, amounts, open_top) == 1
    pairs = "select * from (values (10, 5), (5, 5), (4, 5), (NULL, 5), (4, NULL)) t(a, b)"
    pair = ("ExpectColumnPairValuesAToBeGreaterThanB", {"column_A": "a", "column_B": "b", "or_equal": True,
            "ignore_row_if": "either_value_is_missing"})  # fmt: skip
    assert _count(conn, pairs, pair) == 1  # only 4 < 5
    strict_pair = ("ExpectColumnPairValuesAToBeGreaterThanB", {**pair[1], "or_equal": False})
    assert _count(conn, pairs, strict_pair) == 2
    with pytest.raises(ValueError, match="no SQL push-down"):
        violation_predicate(("ExpectColumnValuesToMatchRegex", {"column": "x"}))
    frame = violations_sql(amounts, [between, open_top])
    assert sorted(float(v) for (v,) in conn.execute(frame).fetchall()) == [-5.0, 1000000.01]


@pytest.fixture(scope="module")
def boundary_warehouse(tmp_path_factory):
    """The clean fixture with payments at and beyond the bounds: 0 (strict min), 1,000,000 (max, allowed),
    1,000,000.01 and -5 fail; NULL does not; 36 ordinary rows pass."""
    path = build_warehouse(tmp_path_factory.mktemp("pushdown") / "wh.duckdb")
    with duckdb.connect(str(path)) as conn:
        conn.execute("update core.fct_payments set amount = 0 where payment_id = 'P1'")
        conn.execute("update core.fct_payments set amount = 1000000 where payment_id = 'P2'")
        conn.execute("update core.fct_payments set amount = 1000000.01 where payment_id = 'P3'")
        conn.execute("update core.fct_payments set amount = -5 where payment_id = 'P4'")
        conn.execute("update core.fct_payments set amount = NULL where payment_id = 'P5'")
    return path


def test_gate_counts_failing_rows_and_reports_the_table_total(boundary_warehouse):
    out = run_quality_suites(boundary_warehouse, AS_OF, None, QualityConfig(), only=["payment_amount_range"])
    (o,) = out
    assert not o.passed and o.failing_rows == 3  # 0, 1000000.01, -5
    assert "3 / 40 行" in o.message  # the total is the table's 40 rows, not the 3 pulled out
    for value in ("-5", "1e+06"):
        assert value in o.message


def test_clean_table_passes_with_its_row_count(tmp_path):
    path = build_warehouse(tmp_path / "wh.duckdb")
    out = run_quality_suites(
        path, AS_OF, None, QualityConfig(), only=["payment_amount_range", "task_error_count_range"]
    )
    assert [(o.passed, o.failing_rows) for o in out] == [(True, 0), (True, 0)]
    assert "通过（40 行）" in out[0].message and "通过（3 行）" in out[1].message
