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
from orchestration.render.tables import cell_json

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
        want = json.dumps(cell_json(to_json_value(v), apply(resolve(fmt, None, "v"), v)), ensure_ascii=False)
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


def test_cells_whose_raw_value_is_their_text_are_the_text_alone():
    """A string without fmt and a date shown yyyy-mm-dd are written `"text"` (tables.cell_json: ~40 %
    of a big table's bytes), by SQL as by Python; NULL and a date shown otherwise stay `[raw, text]`."""
    strings = ["朝阳分部", "", 'it\'s "q" \\ </script>', "tab\there\r\n", "\u2028", None]
    cells = _cells("VARCHAR", strings, None)
    assert len(cells) == len(strings)
    for got, want in cells:
        assert got == want
    assert [got for got, _ in cells][:2] + [cells[-1][0]] == ['"朝阳分部"', '""', '[null,"-"]']
    dates = _cells("DATE", [dt.datetime(2026, 9, 15), None], "yyyy-mm-dd")
    assert [got for got, _ in dates] == ['"2026-09-15"', '[null,"-"]']
    assert _cells("DATE", [dt.datetime(2026, 9, 15)], 'yyyy"年"mm"月"')[0][0] == '["2026-09-15","2026年09月"]'
    assert _cells("TIMESTAMP", [dt.datetime(2026, 9, 15, 1, 2, 3)], "yyyy-mm-dd hh:MM:ss")[0] == (
        '"2026-09-15 01:02:03"',
        '"2026-09-15 01:02:03"',
    )
