"""Row-level checks pushed down to SQL, so the gate's cost stays proportional at 100,000 clients.

A row-level frame (a whole core table) is not pulled into pandas: DuckDB counts its rows and returns
only the rows that break at least one of the frame's expectations (`violations_sql`). GX then validates
that small frame with the same expectations, so every failing row is in it and GX's unexpected counts
and examples are exact; the row total in the messages comes from the SQL count. The predicate is derived
from each expectation's own kwargs (the bounds live in one place, QualityConfig), with GX's semantics:
NULLs are not unexpected for a range, and a pair with a missing side is ignored.
"""

from __future__ import annotations


def _sql_value(value) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def violation_predicate(expectation: tuple[str, dict]) -> str:
    """SQL that is true for exactly the rows GX would count as unexpected for this expectation."""
    cls_name, kw = expectation
    if cls_name == "ExpectColumnValuesToBeBetween":
        col, parts = f'"{kw["column"]}"', []
        if kw.get("min_value") is not None:
            parts.append(f"{col} {'<=' if kw.get('strict_min') else '<'} {_sql_value(kw['min_value'])}")
        if kw.get("max_value") is not None:
            parts.append(f"{col} {'>=' if kw.get('strict_max') else '>'} {_sql_value(kw['max_value'])}")
        return f"({col} is not null and ({' or '.join(parts) or 'false'}))"
    if cls_name == "ExpectColumnPairValuesAToBeGreaterThanB":
        if kw.get("ignore_row_if") != "either_value_is_missing":
            raise ValueError(f"push-down supports ignore_row_if='either_value_is_missing' only: {kw}")
        a, b = f'"{kw["column_A"]}"', f'"{kw["column_B"]}"'
        op = "<" if kw.get("or_equal") else "<="
        return f"({a} is not null and {b} is not null and {a} {op} {b})"
    raise ValueError(f"no SQL push-down for {cls_name}: add it here or make the frame an aggregate")


def violations_sql(base_sql: str, expectations: list[tuple[str, dict]]) -> str:
    """The rows of `base_sql` that break at least one of `expectations`."""
    preds = " or ".join(violation_predicate(e) for e in expectations) or "false"
    return f"select * from ({base_sql}) as frame_rows where {preds}"


def count_sql(base_sql: str) -> str:
    return f"select count(*) from ({base_sql}) as frame_rows"
