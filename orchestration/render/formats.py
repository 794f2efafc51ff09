"""Number and date formats for Chinese readers; the `fmt=` names pages may use.

The same names are implemented in assets/opscenter.js for chart axes and tooltips;
tests compare both on the same values.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal

NULL_TEXT = "—"
WAN = Decimal(10000)

# name -> short description (docs/pages.md lists the same table)
FORMATS = {
    "cny": "¥ with thousands separators, 2 decimals: ¥1,234,567.89",
    "cny0": "¥ with thousands separators, no decimals: ¥1,234,568",
    "wan": "¥ in 万 (÷10,000, 2 decimals) when |v| ≥ 10,000, else like cny: ¥1,234.57万 / ¥9,999.00",
    "num": "thousands separators; integers without decimals, otherwise 2 decimals",
    "num0": "thousands separators, no decimals: 1,234,568",
    "num1": "thousands separators, 1 decimal: 1,234.6",
    "num2": "thousands separators, 2 decimals: 1,234.57",
    "pct": "ratio as percent, 1 decimal: 0.1234 → 12.3%",
    "pct0": "ratio as percent, no decimals: 0.1234 → 12%",
    "pct1": "ratio as percent, 1 decimal: 0.1234 → 12.3%",
    "pct2": "ratio as percent, 2 decimals: 0.1234 → 12.34%",
    "days": "integer with 天: 45 → 45天",
    "date": "ISO date: 2026-11-21",
    "month": "year-month: 2026-11",
    "datetime": "date and minutes: 2026-11-21 08:30",
    "text": "the value as text, unchanged",
}
ALIASES = {"cny_wan": "wan", "int": "num0", "percent": "pct"}


class FormatError(ValueError):
    pass


def _dec(value) -> Decimal:
    # str() of a float is its shortest repr, so 0.125 rounds half-up like a person would
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _group(value: Decimal, places: int) -> str:
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)  # no "-0.00"
    return f"{q:,.{places}f}"


def _money(value: Decimal, places: int, suffix: str = "") -> str:
    text = _group(value, places)
    sign = "-" if text.startswith("-") else ""
    return f"{sign}¥{text.lstrip('-')}{suffix}"


def _as_date(value) -> dt.date | dt.datetime | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


# Excel-style format codes (as Evidence accepts them): a number part `#,##0`, `0.0`, `#,##0.00`…
# with optional literal text before/after (`¥`, `"天"`, `"万"`) and an optional trailing `%`
# (value × 100); or a date code made of yyyy / mm / dd and separators.
_EXCEL_NUMBER = re.compile(
    r'^(?P<pre>(?:"[^"]*"|[¥$])*)(?P<num>#?,?#*0+(?:\.0+)?)(?P<pct>%?)(?P<post>(?:"[^"]*")*)$'
)
_EXCEL_DATE = re.compile(r"^(?:yyyy|yy|mm|dd|hh|ss|[-/. :])+$")
_DATE_TOKEN = re.compile(r"yyyy|yy|mm|dd|hh|ss|.")


def _excel(value, code: str) -> str | None:
    """Format with an Excel-style code, or None when `code` is not one this renderer knows."""
    m = _EXCEL_NUMBER.match(code)
    if m:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return str(value)
        places = len(m["num"].split(".")[1]) if "." in m["num"] else 0
        v = _dec(value) * (100 if m["pct"] else 1)
        q = v.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        q = abs(q) if q == 0 else q
        text = f"{q:,.{places}f}" if "," in m["num"] else f"{q:.{places}f}"
        sign = "-" if text.startswith("-") else ""
        pre, post = (re.sub(r'"([^"]*)"', r"\1", m[k]) for k in ("pre", "post"))
        return f"{sign}{pre}{text.lstrip('-')}{m['pct']}{post}"
    if _EXCEL_DATE.match(code):
        d = _as_date(value)
        if d is None:
            return str(value)
        t = d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day)
        fields = {"yyyy": f"{t.year:04d}", "yy": f"{t.year % 100:02d}", "mm": f"{t.month:02d}",
                  "dd": f"{t.day:02d}", "hh": f"{t.hour:02d}", "ss": f"{t.second:02d}"}  # fmt: skip
        out, prev = [], ""
        for tok in _DATE_TOKEN.findall(code):
            minute = tok == "mm" and prev in ("hh", ":")  # Excel: mm after hh means minutes
            out.append(f"{t.minute:02d}" if minute else fields.get(tok, tok))
            prev = tok
        return "".join(out)
    return None


def format_value(value, fmt: str | None = None) -> str:
    """Format one value for display. fmt=None picks a default from the value's type."""
    if value is None:
        return NULL_TEXT
    if fmt and fmt not in FORMATS and fmt not in ALIASES and (excel := _excel(value, fmt)) is not None:
        return excel
    name = ALIASES.get(fmt, fmt) if fmt else None
    if name is None:
        return _default(value)
    if name not in FORMATS:
        raise FormatError(f"unknown fmt '{fmt}'; known: {', '.join(sorted(FORMATS))}")
    if name == "text":
        return str(value)
    if name in ("date", "month", "datetime"):
        d = _as_date(value)
        if d is None:
            return str(value)
        if name == "date":
            return d.strftime("%Y-%m-%d")
        if name == "month":
            return d.strftime("%Y-%m")
        return d.strftime("%Y-%m-%d %H:%M") if isinstance(d, dt.datetime) else d.strftime("%Y-%m-%d")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    v = _dec(value)
    if name == "cny":
        return _money(v, 2)
    if name == "cny0":
        return _money(v, 0)
    if name == "wan":
        return _money(v / WAN, 2, "万") if abs(v) >= WAN else _money(v, 2)
    if name == "num":
        return _group(v, 0 if v == v.to_integral_value() else 2)
    if name.startswith("num"):
        return _group(v, int(name[3:]))
    if name.startswith("pct"):
        places = 1 if name == "pct" else int(name[3:])
        return _group(v * 100, places) + "%"
    if name == "days":
        return _group(v, 0) + "天"
    raise FormatError(fmt)  # pragma: no cover - every FORMATS name is handled above


def _default(value) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return format_value(value, "datetime")
    if isinstance(value, dt.date):
        return format_value(value, "date")
    if isinstance(value, int | float | Decimal):
        return format_value(value, "num")
    return str(value)


def check_fmt(fmt: str | None) -> None:
    if fmt and ALIASES.get(fmt, fmt) not in FORMATS and _excel(0, fmt) is None:
        raise FormatError(f"unknown fmt '{fmt}'; known: {', '.join(sorted(FORMATS))}")
