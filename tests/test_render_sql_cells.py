"""sql_cells: one DataTable cell as DuckDB builds it equals the Python formatter's, for the date codes
formatted by one strftime and the codes whose text is quoted without to_json (and those that are not).
Real DuckDB (in memory), hand-made values; each cell compared with tables._cell's JSON."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import duckdb
import pytest

from orchestration.render import sql_cells
from orchestration.render.components import to_json_value
from orchestration.render.excel import parse
from orchestration.render.formats import apply, resolve

DATES = [
    dt.datetime(1000, 1, 1),
    dt.datetime(2026, 2, 3, 4, 5, 6),
    dt.datetime(1999, 10, 11, 12, 13, 14),
    dt.datetime(2000, 12, 31, 23, 59, 59),
    dt.datetime(9999, 12, 31, 0, 0, 7),
    None,
]
NUMBERS = [0.0, -0.004, 0.045, 2.675, 1234567.891, -52000.5, 999999999999.995, None]


def _cells(db_type: str, values: list, fmt: str) -> list[tuple[str, str]]:
    """(SQL's cell JSON, Python's) for each value; values the SQL sends to Python are left out."""
    cell = sql_cells.compile_cell("v", db_type, resolve(fmt, None, "v"))
    assert cell is not None, (db_type, fmt)
    con = duckdb.connect()
    con.execute(f"create table t (i integer, v {db_type})")
    con.executemany("insert into t values (?, ?)", list(enumerate(values)))
    out = []
    for i, got, hazard in con.execute(f"select i, {cell.json}, {cell.hazard} from t order by i").fetchall():
        v = values[i]
        if db_type == "DATE" and v is not None:
            v = v.date()
        want = json.dumps([to_json_value(v), apply(resolve(fmt, None, "v"), v)], ensure_ascii=False)
        if not hazard:
            out.append((got, want.replace(", ", ",")))
    return out


@pytest.mark.parametrize("db_type", ["TIMESTAMP", "DATE"])
@pytest.mark.parametrize(
    "fmt, pattern",
    [
        ("yyyy-mm-dd", "%Y-%m-%d"),
        ("yy/mm/dd hh:mm:ss", "%y/%m/%d %H:%M:%S"),
        ('yyyy"年"mm"月"dd"日"', "%Y年%m月%d日"),
        ('yyyy"%"mm', "%Y%%%m"),  # a literal % is not a directive
        ('"FY"y', "FY%y"),
        ("m/d/yyyy", None),  # unpadded tokens: the pieces, not strftime
        ("mmm dd", None),
        ("hh:mm AM/PM", None),
    ],
)
def test_date_cells_equal_python(db_type, fmt, pattern):
    assert sql_cells._strftime(parse(resolve(fmt, None, "v").code)) == pattern
    cells = _cells(db_type, DATES, fmt)
    assert len(cells) == len(DATES)  # years 1000-9999 and NULL: none sent to Python
    for got, want in cells:
        assert got == want


@pytest.mark.parametrize(
    "fmt, quoted",
    [
        ('"¥"#,##0.00', True),
        ('#,##0"天"', True),
        ("0.0%", True),
        ("num0", True),
        ('#,##0\\"', False),  # a literal quote: the text goes through to_json
        ('#,##0"\\\\"', False),  # a literal backslash
    ],
)
def test_number_cells_equal_python(fmt, quoted):
    code = parse(resolve(fmt, None, "v").code)
    assert all(not sql_cells._JSON_UNSAFE.search(v) for k, v in code.parts if k == "lit") == quoted
    for db_type in ("DOUBLE", "DECIMAL(18,3)"):
        decimals = [None if v is None else Decimal(str(v)) for v in NUMBERS]
        values = decimals if "DECIMAL" in db_type else NUMBERS
        values = [v for v in values if v is None or abs(v) < 10**15]
        cells = _cells(db_type, values, fmt)
        assert len(cells) == len(values)
        for got, want in cells:
            assert got == want
