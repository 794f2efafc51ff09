"""A DataTable's cells formatted by DuckDB, byte for byte as tables.py formats them in Python.

At 100,000 clients the per-key data files of the template pages are mostly table cells: formatting
them one by one in Python (`tables._cell`: `to_json_value` + `formats.apply`) cost about 4 ms a
key. Here each cell becomes a SQL expression giving its JSON text (`[raw value, shown text]`), so
DuckDB builds a key's whole `rows` array as one string and Python only splices it into the page.

Only what can be proven equal is compiled; `compile_cell` returns None for anything else (a link
column, an auto format that looks at the column, a type or format code not handled here) and the
table is formatted in Python as before. Values the SQL cannot format exactly (NaN, numbers of 10^15
or more, decimals beyond a double's 53 bits, dates outside years 1000-9999, strings with control
characters other than tab and line breaks) raise the cell's `hazard`: that key's table is then
formatted in Python too. tests/test_render.py compares both on hostile values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .excel import DAYS, MONTHS, Code, FormatError, parse
from .formats import Resolved

_INTS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_FLOATS = ("DOUBLE", "FLOAT", "REAL")
BIG = "1e15"  # |number| from here on: Python's path (exact int/float formatting of huge values)
_BAD_CHARS = r"'[\x00-\x08\x0b\x0c\x0e-\x1f]'"  # to_json writes these as \u000B, Python \u000b
_JSON_UNSAFE = re.compile(r'["\\\x00-\x1f]')  # what a JSON string must escape


@dataclass(frozen=True)
class Cell:
    json: str  # SQL: the cell's JSON text, `[raw,"text"]`, or `"text"` when raw is that text (cell_json)
    hazard: str  # SQL: true when this value must be formatted in Python


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _kind(db_type: str) -> str | None:
    t = db_type.upper()
    if t == "VARCHAR":
        return "string"
    if t == "BOOLEAN":
        return "boolean"
    if t == "DATE":
        return "date"
    if t == "TIMESTAMP":
        return "timestamp"
    if t in _INTS:
        return "int"
    if t in _FLOATS:
        return "float"
    if t.startswith("DECIMAL"):
        return "decimal"
    return None


def _decimal_scale(db_type: str) -> int:
    inner = db_type[db_type.index("(") + 1 : db_type.index(")")] if "(" in db_type else "18,3"
    return int(inner.split(",")[1])


def json_string(sql: str) -> str:
    """A VARCHAR expression as the JSON string json.dumps(ensure_ascii=False) writes (NULL: null)."""
    return f"coalesce(to_json({sql})::varchar, 'null')"


def string_hazard(sql: str) -> str:
    return f"coalesce(regexp_matches({sql}, {_BAD_CHARS}), false)"


def _raw(col: str, kind: str, db_type: str) -> tuple[str, str]:
    """to_json_value(v) as JSON text, and its hazard."""
    if kind == "string":
        return json_string(col), string_hazard(col)
    if kind == "boolean":
        return f"coalesce(to_json({col})::varchar, 'null')", "false"
    if kind == "int":
        return f"coalesce(cast({col} as varchar), 'null')", f"coalesce(abs({col}::double) >= {BIG}, false)"
    if kind == "float":  # cast(double as varchar) is Python's repr(float) (shortest round trip)
        hazard = (
            f"coalesce(isnan({col}::double) or isinf({col}::double) or abs({col}::double) >= {BIG}, false)"
        )
        return f"coalesce(cast({col}::double as varchar), 'null')", hazard
    if kind == "decimal":  # float(Decimal) is exact below 2^53 units: so is DuckDB's cast
        limit = 9007199254740992 / 10 ** _decimal_scale(db_type)
        hazard = f"coalesce(abs({col}::double) >= {min(limit, 1e15)!r}, false)"
        return f"coalesce(cast({col}::double as varchar), 'null')", hazard
    if kind in ("date", "timestamp"):
        pattern = "%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M:%S"
        hazard = f"coalesce(isinf({col}) or year({col}) not between 1000 and 9999, false)"
        return f"""coalesce('"' || strftime({col}, '{pattern}') || '"', 'null')""", hazard
    raise ValueError(kind)  # pragma: no cover


def _number_text(code: Code, x: str) -> str | None:
    """excel.format_number(code, x) in SQL, x a DOUBLE expression (not null, |x| < 10^15)."""
    if code.is_date or not any(k == "num" for k, _ in code.parts) or any(k == "at" for k, _ in code.parts):
        return None
    v = f"({x} * {float(100**code.percents)!r} / {float(1000**code.scale_thousands)!r})"
    a = f"abs({v})"
    d = code.decimals
    if d == 0:
        ip = f"floor({a} + 0.5)"
        number_parts = [(ip, None)]
    elif code.grouping:  # the fraction rounded on its own, carrying into the integer part
        r = f"floor(({a} - floor({a})) * {float(10**d)!r} + 0.5)"
        ip = f"(floor({a}) + ({r} >= {float(10**d)!r})::int)"
        frac = f"lpad(case when {r} >= {float(10**d)!r} then 0 else {r}::bigint end::varchar, {d}, '0')"
        number_parts = [(ip, frac)]
    else:
        text = f"printf('%.{d}f', floor({a} * {float(10**d)!r} + 0.5) / {float(10**d)!r})"
        ip = f"split_part({text}, '.', 1)::bigint"
        number_parts = [(ip, f"split_part({text}, '.', 2)")]
    ip, frac = number_parts[0]
    whole = f"format('{{:,}}', {ip}::bigint)" if code.grouping else f"{ip}::bigint::varchar"
    if code.min_int == 0:
        whole = f"(case when {ip} = 0 then '' else {whole} end)"
    number = whole if frac is None else f"{whole} || '.' || {frac}"
    pieces = []
    for kind, val in code.parts:
        pieces.append(f"({number})" if kind == "num" else ("'%'" if kind == "pct" else sql_literal(val)))
    return f"(case when {v} < 0 then '-' else '' end) || " + " || ".join(pieces)


# excel._date_token as a strftime directive, where DuckDB's gives the same text (for years 1000-9999:
# others are a hazard): (token, with AM/PM) -> directive
_DIRECTIVES = {
    ("y", False): "%y",
    ("yy", False): "%y",
    ("mm", False): "%m",
    ("dd", False): "%d",
    ("hh", False): "%H",
    ("MM", False): "%M",
    ("ss", False): "%S",
}


def _strftime(code: Code) -> str | None:
    """The code as one strftime pattern, or None when a token has no exact directive."""
    if any(k == "ampm" for k, _ in code.parts):
        return None
    out = []
    for kind, val in code.parts:
        if kind == "lit":
            out.append(val.replace("%", "%%"))
        elif kind == "date" and val[0] == "y" and len(val) >= 3:
            out.append("%Y")
        elif kind == "date" and (val, False) in _DIRECTIVES:
            out.append(_DIRECTIVES[(val, False)])
        else:
            return None
    return "".join(out)


def _date_text(code: Code, t: str) -> str | None:
    """excel.format_date(code, t) in SQL (t a DATE or TIMESTAMP, not null)."""
    if not code.is_date:
        return None
    pattern = _strftime(code)
    if pattern is not None:  # one strftime: ~4x cheaper than the pieces below
        return f"strftime({t}, {sql_literal(pattern)})"
    has_ampm = any(k == "ampm" for k, _ in code.parts)
    months = "[" + ", ".join(sql_literal(m) for m in MONTHS) + "]"
    days = "[" + ", ".join(sql_literal(d) for d in DAYS) + "]"
    out = []
    for kind, val in code.parts:
        if kind == "lit":
            out.append(sql_literal(val))
        elif kind == "ampm":
            am, pm = ("AM", "PM") if val == "AM/PM" else ("A", "P")
            out.append(f"(case when hour({t}) < 12 then '{am}' else '{pm}' end)")
        elif kind == "date":
            n, c = len(val), val[0]
            two = "lpad({}::varchar, 2, '0')"
            if c == "y":
                out.append(two.format(f"year({t}) % 100") if n <= 2 else f"lpad(year({t})::varchar, 4, '0')")
            elif c == "m":
                name = f"{months}[month({t})]"
                out.append(
                    {
                        1: f"month({t})::varchar",
                        2: two.format(f"month({t})"),
                        3: f"left({name}, 3)",
                        4: name,
                    }.get(n, f"left({name}, 1)")
                )
            elif c == "M":
                out.append(f"minute({t})::varchar" if n == 1 else two.format(f"minute({t})"))
            elif c == "d":
                day = f"{days}[isodow({t})]"
                out.append(
                    [f"day({t})::varchar", two.format(f"day({t})"), f"left({day}, 3)", day][min(n, 4) - 1]
                )
            elif c == "h":
                h = (
                    f"(case when hour({t}) % 12 = 0 then 12 else hour({t}) % 12 end)"
                    if has_ampm
                    else f"hour({t})"
                )
                out.append(f"{h}::varchar" if n == 1 else two.format(h))
            elif c == "s":
                out.append(f"second({t})::varchar" if n == 1 else two.format(f"second({t})"))
            else:
                return None
        else:
            return None
    return " || ".join(out) if out else None


def _text(col: str, kind: str, r: Resolved) -> tuple[str, bool] | None:
    """formats.apply(r, v) as SQL text (not null), and whether that text is already valid inside a
    JSON string (no quote, backslash or control character can be in it); None when not handled here."""
    if r.kind == "fallback" or r.code is None:
        if r.kind != "fallback":
            return None
        if kind == "string":
            return col, False
        if kind == "boolean":
            return f"case when {col} then 'true' else 'false' end", True
        return None
    if r.kind != "code" or r.divisor != 1 or r.suffix:
        return None
    try:
        code = parse(r.code)
    except FormatError:
        return None
    # the code's own text is all that is not digits, signs, separators or English names
    safe = all(not _JSON_UNSAFE.search(v) for k, v in code.parts if k == "lit")
    text = None
    if kind in ("date", "timestamp"):
        text = _date_text(code, col)
    if kind in ("int", "float", "decimal"):
        text = _number_text(code, f"{col}::double")
    return None if text is None else (text, safe)


def compile_cell(column: str, db_type: str, resolved: Resolved) -> Cell | None:
    """One DataTable cell `[to_json_value(v), apply(resolved, v)]` as SQL JSON text (the text alone
    when the raw value is that same text, as tables.cell_json writes it), or None."""
    kind = _kind(db_type)
    if kind is None:
        return None
    col = quote_ident(column)
    found = _text(col, kind, resolved)
    if found is None:
        return None
    text, safe = found
    raw, hazard = _raw(col, kind, db_type)
    quoted = f"""'"' || {text} || '"'""" if safe else json_string(text)  # to_json's text, cheaper
    if kind == "string":  # shown as it is (no fmt on a string): the text alone, its raw value too
        return Cell(json=f"""(case when {col} is null then '[null,"-"]' else {raw} end)""", hazard=hazard)
    shown = f"""(case when {col} is null then '"-"' else {quoted} end)"""
    pair = f"'[' || {raw} || ',' || {shown} || ']'"
    if kind in ("date", "timestamp"):  # a date shown as its raw text (yyyy-mm-dd): the text alone
        pattern = "%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M:%S"
        pair = f"(case when {text} = strftime({col}, '{pattern}') then {raw} else {pair} end)"
    return Cell(json=pair, hazard=hazard)


def relative_cell(cell: Cell, column: str, since: str) -> Cell:
    """`cell`, or where the row's number was published as the date it counts from (relative.py:
    the number NULL, the date kept) relative.cell's JSON, `{"s":"YYYY-MM-DD"}`."""
    c, s = quote_ident(column), quote_ident(since)
    return Cell(
        json=f"""(case when {c} is null and {s} is not null """
        f"""then '{{"s":"' || strftime({s}, '%Y-%m-%d') || '"}}' else {cell.json} end)""",
        hazard=f"({cell.hazard} or coalesce(isinf({s}) or year({s}) not between 1000 and 9999, false))",
    )


# embed_json's escapes (components._SCRIPT_UNSAFE), applied to JSON text built by DuckDB
def script_safe(sql: str) -> str:
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        sql = f"replace({sql}, '{ch}', '{esc}')"
    for cp in (0x2028, 0x2029):
        sql = f"replace({sql}, chr({cp}), '\\u{cp:04x}')"
    return sql


def text_cell(cell: Cell, column: str, template: str, since: str | None, until: str | None) -> Cell:
    """`cell`, or where the row's text was published as its template (relative.py: the text NULL, the
    template and a date kept) relative.text_cell's JSON, `{"t":"…","s":"YYYY-MM-DD"}` or `"u"`."""
    c, t = quote_ident(column), quote_ident(template)
    s, u = (None if d is None else quote_ident(d) for d in (since, until))
    head = f"""'{{"t":' || {json_string(t)} || ',"""
    branches, hazards = [], [cell.hazard, string_hazard(t)]
    for key, d in (("s", s), ("u", u)):
        if d is None:
            continue
        branches.append(
            f"""when {c} is null and {t} is not null and {d} is not null """
            f"""then {head}"{key}":"' || strftime({d}, '%Y-%m-%d') || '"}}'"""
        )
        hazards.append(f"coalesce(isinf({d}) or year({d}) not between 1000 and 9999, false)")
    return Cell(json=f"(case {' '.join(branches)} else {cell.json} end)", hazard=f"({' or '.join(hazards)})")
