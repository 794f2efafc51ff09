"""Evidence's value formatting: built-in format names, Excel-style codes, and Evidence's defaults.

Mirrors @evidence-dev/component-utilities (formatting.js, builtInFormats.js, autoFormatting.js):
- `fmt=` is a built-in name (num0, pct1, cny2, usd0k, …) or an Excel-style code ('yyyy-mm-dd',
  '#,##0"天"'); a bare word that is no built-in name is an error here (Evidence would silently treat
  it as a code and print garbage, e.g. fmt=days → "8a000").
- auto formats (`cny`, `usd`, `pct`, and no fmt on a number) pick one code per column from the
  column's summary (median, largest number of decimals): ¥330k, 12.3k, 2.5.
- null → "-"; dates default to yyyy-mm-dd (timestamps too: Evidence holds them as dates);
  booleans "true"/"false"; strings unchanged.

`resolve()` turns (fmt, column summary) into a `Resolved` (code, divisor, suffix) that both Python
(tables, BigValue, Value, text) and the charts' JS (axis labels, tooltips; SSF) apply the same way.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from .excel import FormatError, format_code, parse

NULL_TEXT = "-"
CURRENCIES = {  # Evidence SUPPORTED_CURRENCIES: code -> symbol as written in the format code
    "usd": "$", "aud": '"A$"', "brl": '"R$"', "cad": '"C$"', "cny": '"¥"', "eur": "€", "gbp": '"£"',
    "jpy": '"¥"', "inr": '"₹"', "krw": '"₩"', "ngn": '"₦"', "rub": '"rub"', "sek": '"kr"',
}  # fmt: skip
_DERIVED = {  # suffix -> number code (DERIVED_CURRENCY_FORMATS; "" is the auto format)
    "0": "#,##0", "1": "#,##0.0", "2": "#,##0.00",
    "0k": '#,##0,"k"', "1k": '#,##0.0,"k"', "2k": '#,##0.00,"k"',
    "0m": '#,##0,,"M"', "1m": '#,##0.0,,"M"', "2m": '#,##0.00,,"M"',
    "0b": '#,##0,,,"B"', "1b": '#,##0.0,,,"B"', "2b": '#,##0.00,,,"B"',
}  # fmt: skip
BUILT_IN: dict[str, str] = {
    "ddd": "ddd", "dddd": "dddd", "mmm": "mmm", "mmmm": "mmmm", "yyyy": "yyyy",
    "shortdate": "mmm d/yy", "longdate": "mmmm d, yyyy", "fulldate": "dddd mmmm d, yyyy",
    "mdy": "m/d/y", "dmy": "d/m/y", "hms": "H:MM:SS AM/PM",
    "num0": "#,##0", "num1": "#,##0.0", "num2": "#,##0.00", "num3": "#,##0.000", "num4": "#,##0.0000",
    "num0k": '#,##0,"k"', "num1k": '#,##0.0,"k"', "num2k": '#,##0.00,"k"',
    "num0m": '#,##0,,"M"', "num1m": '#,##0.0,,"M"', "num2m": '#,##0.00,,"M"',
    "num0b": '#,##0,,,"B"', "num1b": '#,##0.0,,,"B"', "num2b": '#,##0.00,,,"B"',
    "id": "0", "mult": '#,##0.0"x"', "mult0": '#,##0"x"', "mult1": '#,##0.0"x"', "mult2": '#,##0.00"x"',
    "pct0": "#,##0%", "pct1": "#,##0.0%", "pct2": "#,##0.00%", "pct3": "#,##0.000%",
}  # fmt: skip
for _cur, _sym in CURRENCIES.items():
    BUILT_IN.update({_cur + sfx: _sym + code for sfx, code in _DERIVED.items()})
AUTO = {"pct", *CURRENCIES}  # built-in names whose code depends on the column
UNSUPPORTED = {"fract": "# ?/?", "sci": "0.00E+0"}  # Evidence names the renderer does not implement
# kept for callers that list the names (docs, errors)
FORMATS = sorted([*BUILT_IN, *AUTO])


@dataclass(frozen=True)
class Summary:
    """Evidence's column unit summary: what auto formats look at."""

    unit_type: str  # number | date | string | boolean | unknown
    median: float | None = None
    max_decimals: int = 0


@dataclass(frozen=True)
class Resolved:
    """What to do with one value: ssf code (None = Evidence's fallback), divide, append."""

    code: str | None
    divisor: float = 1.0
    suffix: str = ""
    kind: str = "code"  # code | fallback | raw (the year/id implicit formats)

    def to_json(self) -> dict:
        is_date = bool(self.code) and parse(self.code).is_date
        return {
            "code": self.code,
            "div": self.divisor,
            "suffix": self.suffix,
            "kind": self.kind,
            "date": is_date,
        }


def value_type(v) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float | Decimal):
        return "number"
    if isinstance(v, dt.date):
        return "date"
    return "string"


def _decimals(v) -> int:
    text = _js_string(v)
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def summarize(values, declared_type: str | None = None) -> Summary:
    """getColumnUnitSummary + the column's Evidence type (first non-null value's type)."""
    present = [v for v in values if v is not None]
    kind = declared_type or (value_type(present[0]) if present else "number")
    if kind != "number":
        return Summary(unit_type=kind)
    nums = [float(v) for v in present]
    median = statistics.median(nums) if nums else None
    return Summary("number", median, max((_decimals(v) for v in present), default=0))


def _unit(median: float) -> tuple[str, float]:
    a = abs(median)
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= 5 * size:
            return unit, size
    return "", 1.0


def _auto_code(reference: float, max_decimals: int = 7) -> str:
    if not 0 <= reference < math.inf:  # negative, NaN or infinite median: Evidence shows no decimals
        return "#,##0"
    exp = 0 if reference == 0 else math.floor(math.log10(reference))
    places = min(max(abs(exp - 3 + 1), 0), max_decimals) if exp - 3 < 0 else 0
    return "#,##0" + ("." + "0" * places if places else "")


def _implicit_number(s: Summary | None, max_decimals: int = 7) -> tuple[str, str, float]:
    """generateImplicitNumberFormat: (code, unit suffix, divisor)."""
    if s is None or s.median is None:
        return "#,##0", "", 1.0
    unit, size = _unit(s.median)
    if s.max_decimals == 0 and not unit:
        return "#,##0", "", 1.0
    reference = s.median / size if unit else s.median
    return _auto_code(reference, max_decimals), unit, size


@lru_cache(maxsize=512)
def check_fmt(fmt: str | None) -> None:
    """A fmt the renderer can apply exactly as Evidence does, or FormatError (checked once per fmt:
    an error is not cached, so it is raised every time)."""
    if not fmt or fmt.lower() in BUILT_IN or fmt.lower() in AUTO:
        return
    if fmt.lower() in UNSUPPORTED:
        raise FormatError(f"fmt={fmt}: Evidence format not supported by the offline renderer")
    if fmt.replace("_", "").isalnum() and not set(fmt) <= set("0#"):
        raise FormatError(
            f"unknown fmt '{fmt}': not an Evidence built-in format (num0, pct1, cny2, usd0k, …) "
            "nor an Excel-style code such as '#,##0\"天\"' (see docs/pages.md)"
        )
    parse(fmt)


def resolve(fmt: str | None, summary: Summary | None = None, column: str | None = None) -> Resolved:
    """(fmt, column summary) -> Resolved, as Evidence's formatValue/lookupColumnFormat would."""
    s = summary
    if not fmt and column and s is not None and s.unit_type != "string" and column.rfind("_") > 0:
        tag = column.lower()[column.rfind("_") + 1 :]  # Evidence format tags: growth_pct, revenue_usd
        if tag in BUILT_IN or tag in AUTO:
            fmt = tag
    if not fmt:
        if s is None:
            return Resolved(None, kind="fallback")
        if s.unit_type == "number" and column and column.lower() in ("year", "id"):
            return Resolved(None, kind="raw")
        if s.unit_type == "date":
            return Resolved("YYYY-MM-DD")
        if s.unit_type == "number":
            code, suffix, div = _implicit_number(s)
            return Resolved(code, div, suffix)
        return Resolved(None, kind="fallback")
    check_fmt(fmt)
    name = fmt.lower()
    if name in CURRENCIES:
        code, suffix, div = _implicit_number(s, 2)
        if not suffix and code.endswith(".0"):
            code += "0"
        return Resolved(CURRENCIES[name] + code, div, suffix)
    if name == "pct":
        if s is None or s.unit_type != "number" or s.median is None:
            return Resolved("#,##0%")
        scaled = Summary("number", s.median * 100, max(s.max_decimals - 2, 0))
        code, suffix, div = _implicit_number(scaled)
        return Resolved(code, div / 100, suffix + "%")
    return Resolved(BUILT_IN.get(name, fmt))


def apply(r: Resolved, value) -> str:
    if value is None:
        return NULL_TEXT
    if r.kind == "raw":
        return _js_string(value)
    if r.kind == "fallback" or r.code is None:
        return fallback(value)
    try:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            v = float(value) / r.divisor if r.divisor != 1 else float(value)
            return format_code(r.code, v) + r.suffix
        return format_code(r.code, value) + r.suffix
    except FormatError:
        raise
    except (ValueError, OverflowError):
        return fallback(value)


def fallback(value) -> str:
    """Evidence fallbackFormat: toLocaleString(max 2 decimals) for numbers, String() otherwise."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal) and not math.isfinite(value):  # JS toLocaleString: NaN, ∞, -∞
        return "NaN" if math.isnan(value) else ("-∞" if value < 0 else "∞")
    if isinstance(value, int | float | Decimal):
        q = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
        text = f"{abs(q):,f}"
        return ("-" if q < 0 else "") + text
    if isinstance(value, dt.datetime | dt.date):
        return format_code("YYYY-MM-DD", value)
    return str(value)


def _js_string(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return _js_string(float(value))
    return str(value)


def format_value(
    value, fmt: str | None = None, summary: Summary | None = None, column: str | None = None
) -> str:
    """One value as Evidence shows it: `fmt(value, 'cny2')`, a table cell, a BigValue. A fmt other
    than the auto ones resolves the same whatever the summary (see resolve)."""
    return apply(resolve(fmt, summary, column), value)


def text_value(value) -> str:
    """`{q[0].col}` in markdown: the raw value as Svelte prints it (dates as yyyy-mm-dd)."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return format_code("yyyy-mm-dd", value)
    return _js_string(value)


NUMERIC_TYPES = ("INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "DOUBLE", "FLOAT")
NUMERIC_TYPES += ("DECIMAL", "REAL", "UINTEGER", "USMALLINT", "UTINYINT")


def evidence_type(db_type: str) -> str:
    """DuckDB column type -> Evidence's column type (number, date, boolean, string)."""
    t = db_type.upper()
    if t.startswith(("DATE", "TIMESTAMP")):
        return "date"
    if t.startswith("BOOL"):
        return "boolean"
    if t.startswith(NUMERIC_TYPES):
        return "number"
    return "string"
