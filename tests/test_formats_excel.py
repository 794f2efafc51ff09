"""Excel-style format codes the pages use (Evidence accepts them; our renderer must show the same)."""

import datetime as dt
from decimal import Decimal

import pytest

from orchestration.render.formats import FormatError, check_fmt, format_value


@pytest.mark.parametrize(
    ("value", "code", "shown"),
    [
        (1234.5, '"¥"#,##0', "¥1,235"),
        # Evidence formats doubles with SSF: 336297.855 is 336297.85499… as a double
        (Decimal("336297.855"), '"¥"#,##0.00', "¥336,297.85"),
        (-5, '"¥"#,##0', "-¥5"),
        (24.625, '"¥"#,##0.00"万"', "¥24.63万"),
        (45, '#,##0"天"', "45天"),
        (17.56, '#,##0.0"天"', "17.6天"),
        (56.04, '#,##0.0"%"', "56.0%"),  # already a percentage: a literal %, not ×100
        (0.1234, "0.0%", "12.3%"),  # a ratio: × 100
        (1.891, '0.00"次/单"', "1.89次/单"),
        (dt.date(2026, 11, 2), "yyyy-mm-dd", "2026-11-02"),
        (dt.datetime(2026, 11, 21, 8, 30), "yyyy-mm-dd hh:mm", "2026-11-21 08:30"),
        (None, '"¥"#,##0', "-"),  # Evidence shows null as -
    ],
)
def test_excel_codes(value, code, shown):
    check_fmt(code)
    assert format_value(value, code) == shown


def test_unknown_code_is_refused():
    with pytest.raises(FormatError):
        check_fmt("wan2")
    with pytest.raises(FormatError):  # SSF (Evidence) needs a currency sign in quotes
        check_fmt("¥#,##0")
