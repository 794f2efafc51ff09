"""Day counts that move with the as-of date, published as the date they count from.

A number such as an open invoice's 逾期天数 (as_of - due_date) or an open task's 延迟天数 changes every
night while nothing about the invoice or task changed; written into the data file it makes the file
change every night (at 100,000 clients most of a one-day night's rewritten data files changed only so).
A page opts in per column with a companion DATE column in its query, `<column>__since`: for a row
where the companion is not null, the column must equal `greatest(0, as_of - since)` days. The renderer
checks that, row by row, in the SQL that stores the page's results (`wrap_sql`): where it holds, the
stored row keeps the date and drops the number (`<column>` NULL), so the key's content hash and data
file stay the same from night to night while the item stays open; where it does not hold (or the
companion is NULL), the row keeps its number and no date, as any column. The page shows the number
again in the browser: `assets/opscenter.js` computes `max(0, as_of - since)` from the version's
`assets/run.js` (the as-of date the check used) and formats it with the column's fixed format, the
same text Python writes (tests compare in Chromium).

Evidence ignores the companion column (a DataTable shows its <Column>s, a BigValue its value=), and
shows the column's own value, the same number. Used by DataTable columns and BigValue; any other read
of such a value (`{q[0].x}`, Value, charts) fails the render rather than show an empty number.

A text with a day count inside (an alert's "已逾期 3 天", "剩 24 天") opts in the same way with a
template: beside a VARCHAR column `t`, `t__template` (VARCHAR: the text with the count written as
`{days}`) and `t__since` and/or `t__until` (DATE). For a row, the count is `greatest(0, as_of - since)`
where `since` is not NULL, else `greatest(0, until - as_of)`; where the template with every `{days}`
replaced by that count equals the text, the stored row keeps the template and the date and `t` becomes
NULL, else it keeps its text and no template or date. So the check compares the whole sentence: a
wrong template, count or date costs only efficiency. In the data file such a cell is
`{"t": template, "s": since}` (or `"u": until`); opscenter.js replaces every `{days}` with the count
(the same replace-all the check used). Used by DataTable columns only (any other read fails).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

SUFFIX = "__since"
UNTIL = "__until"
TEMPLATE = "__template"
PLACEHOLDER = "{days}"  # where a text's day count goes in its template (marts' message_template)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def as_of_date(value) -> str | None:
    """The render's as-of date as `YYYY-MM-DD`, or None (then no column is published relative)."""
    text = str(value or "")
    if not _ISO.fullmatch(text):
        return None
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return None
    return text


def pairs(columns: list[str], types: list[str]) -> list[tuple[str, str]]:
    """(column, companion) for each integer column with a DATE `<column>__since` beside it."""
    return list(_pairs(tuple(columns), tuple(types)))


@lru_cache(maxsize=256)
def _pairs(columns: tuple[str, ...], types: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """pairs, once per query shape (every key of a template page asks for the same columns)."""
    found = []
    for c, t in zip(columns, types, strict=True):
        s = c + SUFFIX
        if s in columns and types[columns.index(s)] == "DATE" and t in _INTS:
            found.append((c, s))
    return tuple(found)


_INTS = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)


@dataclass(frozen=True)
class TextDays:
    """A text column with a day count inside, published as its template and date (see module doc)."""

    column: str
    template: str
    since: str | None  # companion DATE columns present in the query (at least one)
    until: str | None


def texts(columns: list[str], types: list[str]) -> list[TextDays]:
    """The VARCHAR columns with a VARCHAR `<column>__template` and a DATE `__since` / `__until`."""
    return list(_texts(tuple(columns), tuple(types)))


@lru_cache(maxsize=256)
def _texts(columns: tuple[str, ...], types: tuple[str, ...]) -> tuple[TextDays, ...]:
    """texts, once per query shape."""
    kind = dict(zip(columns, types, strict=True))
    found = []
    for c, t in kind.items():
        if t != "VARCHAR" or kind.get(c + TEMPLATE) != "VARCHAR":
            continue
        since, until = (d if kind.get(d) == "DATE" else None for d in (c + SUFFIX, c + UNTIL))
        if since or until:
            found.append(TextDays(c, c + TEMPLATE, since, until))
    return tuple(found)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _days_sql(t: TextDays, as_of: str) -> str:
    """SQL: the row's day count for `t`, NULL without a date."""
    day = f"DATE '{as_of}'"  # (greatest() skips a NULL: each branch tests its date first)
    since = f"when {_q(t.since)} is not null then greatest(0, datediff('day', {_q(t.since)}, {day}))"
    until = f"when {_q(t.until)} is not null then greatest(0, datediff('day', {day}, {_q(t.until)}))"
    return f"case {since if t.since else ''} {until if t.until else ''} end"


def wrap_sql(sql: str, columns: list[str], types: list[str], as_of: str | None) -> str:
    """`sql` with each relative column checked: NULL and its date kept where the number equals
    greatest(0, as_of - since), else the number kept and the date NULL (every date NULL when there is
    no as-of date). `sql` unchanged when the query has no such column. After it, a row whose
    companion is not NULL is one published relative."""
    found = pairs(columns, types)
    text_days = texts(columns, types)
    if not found and not text_days:
        return sql
    parts = []
    for t in text_days:
        dates = [d for d in (t.since, t.until) if d]
        if as_of is None:
            parts += [f"null::VARCHAR as {_q(t.template)}"] + [f"null::DATE as {_q(d)}" for d in dates]
            continue
        filled = f"replace({_q(t.template)}, '{PLACEHOLDER}', ({_days_sql(t, as_of)})::VARCHAR)"
        ok = f"coalesce({_q(t.column)} = {filled}, false)"
        parts += [
            f"case when {ok} then null else {_q(t.column)} end as {_q(t.column)}",
            f"case when {ok} then {_q(t.template)} end as {_q(t.template)}",
        ] + [f"case when {ok} then {_q(d)} end as {_q(d)}" for d in dates]
    for c, s in found:
        if as_of is None:  # no date to count to: every number stays as it is
            parts.append(f"null::DATE as {_q(s)}")
            continue
        ok = f"({_q(s)} is not null and {_q(c)} = greatest(0, datediff('day', {_q(s)}, DATE '{as_of}')))"
        parts += [
            f"case when {ok} then null else {_q(c)} end as {_q(c)}",
            f"case when {ok} then {_q(s)} end as {_q(s)}",
        ]
    return f"select * replace ({', '.join(parts)}) from ({sql}) as __relative"


def apply_rows(columns: list[str], types: list[str], rows: list[tuple], as_of: str | None) -> list[tuple]:
    """wrap_sql in Python, for a query run once per key."""
    found = pairs(columns, types)
    text_days = texts(columns, types)
    if not found and not text_days:
        return rows
    day = dt.date.fromisoformat(as_of) if as_of else None
    idx = [(columns.index(c), columns.index(s)) for c, s in found]
    out = []
    for row in rows:
        row = list(row)
        for t in text_days:
            ci, ti = columns.index(t.column), columns.index(t.template)
            di = [columns.index(d) for d in (t.since, t.until) if d]
            if day is None or row[ti] is None or row[ci] is None or row[ci] != fill(row, columns, t, day):
                for i in [ti, *di]:
                    row[i] = None
            else:
                row[ci] = None
        for ci, si in idx:
            since = row[si]
            if day and since is not None and row[ci] is not None and row[ci] == max(0, (day - since).days):
                row[ci] = None
            else:
                row[si] = None
        out.append(tuple(row))
    return out


def since_of(columns: list[str], row: tuple, column: str):
    """The date `row`'s value of `column` counts from (published relative), or None."""
    s = column + SUFFIX
    if s not in columns:
        return None
    i = columns.index(column)
    since = row[columns.index(s)]
    return since if row[i] is None and since is not None else None


def cell(since: dt.date) -> dict:
    """A relative table cell in the data file (opscenter.js turns it into [days, text])."""
    return {"s": since.strftime("%Y-%m-%d")}


def _days(row, columns: list[str], t: TextDays, day: dt.date) -> int | None:
    since = row[columns.index(t.since)] if t.since else None
    if since is not None:
        return max(0, (day - since).days)
    until = row[columns.index(t.until)] if t.until else None
    return None if until is None else max(0, (until - day).days)


def fill(row, columns: list[str], t: TextDays, day: dt.date) -> str | None:
    """The row's template with its day count as of `day` (None without a template or date)."""
    template, n = row[columns.index(t.template)], _days(row, columns, t, day)
    return None if template is None or n is None else template.replace(PLACEHOLDER, str(n))


def text_of(columns: list[str], types: list[str], row: tuple, column: str) -> dict | None:
    """The data file's cell for `row`'s `column` when it was published as a template, else None."""
    for t in texts(columns, types):
        if t.column != column or row[columns.index(column)] is not None:
            continue
        template = row[columns.index(t.template)]
        since = row[columns.index(t.since)] if t.since else None
        until = row[columns.index(t.until)] if t.until else None
        return text_cell(template, since, until)
    return None


def text_cell(template: str | None, since: dt.date | None, until: dt.date | None) -> dict | None:
    """A text published as its template in the data file (opscenter.js fills the count in), or None."""
    if template is None or (since is None and until is None):
        return None
    if since is not None:
        return {"t": template, "s": since.strftime("%Y-%m-%d")}
    return {"t": template, "u": until.strftime("%Y-%m-%d")}


def published(columns: list[str], types: list[str], row: tuple, column: str) -> bool:
    """Whether `row`'s `column` was published relative (a date or a template instead of its value)."""
    return since_of(columns, row, column) is not None or text_of(columns, types, row, column) is not None
