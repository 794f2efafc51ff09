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
"""

from __future__ import annotations

import datetime as dt
import re

SUFFIX = "__since"
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
    found = []
    for c, t in zip(columns, types, strict=True):
        s = c + SUFFIX
        if s in columns and types[columns.index(s)] == "DATE" and t in _INTS:
            found.append((c, s))
    return found


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


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def wrap_sql(sql: str, columns: list[str], types: list[str], as_of: str | None) -> str:
    """`sql` with each relative column checked: NULL and its date kept where the number equals
    greatest(0, as_of - since), else the number kept and the date NULL (every date NULL when there is
    no as-of date). `sql` unchanged when the query has no such column. After it, a row whose
    companion is not NULL is one published relative."""
    found = pairs(columns, types)
    if not found:
        return sql
    parts = []
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
    if not found:
        return rows
    day = dt.date.fromisoformat(as_of) if as_of else None
    idx = [(columns.index(c), columns.index(s)) for c, s in found]
    out = []
    for row in rows:
        row = list(row)
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
