"""A template page's queries for a batch of keys, kept in DuckDB until a key needs them.

`TemplateRun` runs each query once for all the page's keys (queries.keyed_sql) into a temp table
whose rows are in key order (DuckDB's plan for such a query computes the page's query for every
value and joins the keys last: per batch of keys it would cost as much as for all of them), then,
a range of keys at a time (`batches`: at most so many keys and rows, so DuckDB's string aggregates
and Python hold one batch):

1. `digests()`: per key, each query's row count and an md5 of its rows, computed by DuckDB. The
   renderer compares the key's content hash with the previous version's and hard-links the
   unchanged keys' data files: their rows never leave DuckDB.
2. `fetch(keys)`: for the keys that must be rendered, each query's Result. A query read only by
   DataTables whose every cell compiles to SQL (sql_cells) comes back with the tables' `rows` JSON
   already built by DuckDB (`prebuilt`, keyed by (query, the table's line)); its Result holds
   placeholder rows (the count only). Every other query, and a key whose values are hazards for
   the SQL formatter, gets its rows as before.

A query keyed_sql cannot run set-based still runs once per key here, as in queries.py.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from . import relative, sql_cells
from .formats import Resolved, Summary, evidence_type, resolve
from .queries import KEYS_TABLE, PageQueryError, Result, expand, keyed_query, run_one

RENDER_TABLE = "__opscenter_render"
ROWS_PER_BATCH = 100_000  # rows of a page's queries built into text at a time (DuckDB memory)
HREFS_TABLE = "__opscenter_hrefs"
# column summaries a data-independent format must resolve identically under (see table_cells)
_PROBES = [(None, 0), (1.0, 0), (1234567.891, 3), (0.0123, 4), (-52000.5, 1)]


@dataclass(frozen=True)
class TableSpec:
    """A DataTable of the page, from its source: `query` is its data, `line` where it starts."""

    query: str
    line: int
    columns: tuple[tuple[str, str | None], ...]  # (id, fmt) of its <Column> children
    link: str | None  # the table's link= column


@dataclass
class Prebuilt:
    rows_json: str  # the table's `rows`, JSON text already script-safe (components.embed_json)
    links: list[str] = field(default_factory=list)  # internal URLs the rows link to


def fixed_format(fmt: str | None, db_type: str, column: str) -> Resolved | None:
    """The column's Resolved format when it does not depend on the column's values, else None."""
    kind = evidence_type(db_type)
    found = set()
    for median, decimals in _PROBES:
        summary = Summary(kind, median, decimals) if kind == "number" else Summary(kind)
        try:
            found.add(resolve(fmt, summary, column))
        except ValueError:
            return None
    return found.pop() if len(found) == 1 else None


class TemplateRun:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        page: Path,
        queries: dict[str, str],
        param: str,
        keys: list[str],
        tables: dict[str, list[TableSpec]],
        as_of: str | None = None,
    ):
        self.con, self.page, self.queries, self.param, self.keys = con, page, queries, param, keys
        self.as_of = relative.as_of_date(as_of)  # relative day counts are checked against it
        self.tables = tables  # query -> the DataTables that are its only readers
        self.stored: dict[str, tuple[str, list[str], list[str]]] = {}  # name -> (temp table, columns, types)
        self.per_key: dict[str, dict[str, Result]] = {}  # name -> key -> Result (not set-based)
        self.counts: dict[str, dict[str, int]] | None = None  # key -> query -> rows, once digests ran
        self.sorted = sorted(keys)  # stored rows come out in this order: a batch is a range of keys
        con.execute(
            f"create or replace temp table {KEYS_TABLE} as "
            "select unnest(range(?)) as __pos, unnest(?::varchar[]) as __key",
            [len(keys), self.sorted],
        )
        for i, name in enumerate(queries):
            table = f"__opscenter_q{i}"
            keyed = keyed_query(name, queries, param, page)
            if keyed is not None:
                try:
                    desc = con.execute(f"describe {keyed}").fetchall()
                    keyed = relative.wrap_sql(keyed, [d[0] for d in desc], [d[1] for d in desc], self.as_of)
                    con.execute(f"create or replace temp table {table} as {keyed}")
                    desc = con.execute(f"select * from {table} limit 0").description or []
                    self.stored[name] = (table, [d[0] for d in desc[2:]], [str(d[1]) for d in desc[2:]])
                    continue
                except duckdb.Error:
                    pass  # its own error, if any, is reported by the per-key run below
            self.per_key[name] = {
                k: self._relative(run_one(con, page, name, expand(name, queries, {param: k}, page)))
                for k in keys
            }

    def _relative(self, res: Result) -> Result:
        rows = relative.apply_rows(res.columns, res.types, res.rows, self.as_of)
        return res if rows is res.rows else Result(res.columns, res.types, rows)

    def batches(
        self,
        size: int,
        rows: dict[str, int] | None = None,
        max_rows: int | None = None,
        only: set[str] | None = None,
    ):
        """The keys in the stored tables' order (a batch reads a range of rows), at most `size` at a
        time and, given each key's row count `rows`, at most `max_rows` rows a batch unless one key
        has more (then alone): a key's text is built whole in DuckDB (string_agg does not spill).
        `only`: the keys that count toward a batch's keys and rows (the keys to fetch); the others
        ride along in their place, so a batch stays a range of keys and few changed keys among many
        unchanged ones are fetched in few batches, each still reading a range of rows."""
        max_rows = ROWS_PER_BATCH if max_rows is None else max_rows
        batch: list[str] = []
        counted = total = 0
        for k in self.sorted:
            counts = only is None or k in only
            n = rows.get(k, 0) if rows and counts else 0
            if counts and counted and (counted >= size or total + n > max_rows):
                yield batch
                batch, counted, total = [], 0, 0
            batch.append(k)
            counted += counts
            total += n
        if batch:
            yield batch

    def close(self) -> None:
        for table, _, _ in self.stored.values():
            self.con.execute(f"drop table if exists {table}")
        for t in (KEYS_TABLE, RENDER_TABLE, HREFS_TABLE):
            self.con.execute(f"drop table if exists {t}")

    # --- 1. what each key's results are, without fetching them ------------------------------------

    def digests(self, size: int) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
        """key -> a hash of every query's columns, types and rows; key -> query -> row count.
        Computed `size` keys at a time."""
        parts: dict[str, list[str]] = {k: [] for k in self.keys}
        counts: dict[str, dict[str, int]] = {k: {} for k in self.keys}
        rows: dict[str, int] = {}
        # each key's rows over all queries bound the md5 batches below; needed only when a query is
        # hashed as text (the 64-bit row hash counts its rows in its own pass)
        if any(_row_hash(c, t) is None for _, c, t in self.stored.values()):
            for table, _, _ in self.stored.values():
                for k, n in self.con.execute(
                    f"select __key, count(*) from {table} group by __key"
                ).fetchall():
                    rows[k] = rows.get(k, 0) + n
        for name in self.queries:
            if name in self.per_key:
                for k, res in self.per_key[name].items():
                    counts[k][name] = len(res.rows)
                    parts[k].append(repr((name, res.columns, res.types, res.rows)))
                continue
            table, columns, types = self.stored[name]
            fast = _row_hash(columns, types)
            head = repr((name, columns, types, "hash64:" + duckdb.__version__ if fast else "md5"))
            found = {}
            if fast:  # no text and no sort: one pass over the stored rows
                found.update(
                    (k, (n, str(h)))
                    for k, n, h in self.con.execute(
                        f"select __key, count(*), bit_xor({fast}) from {table} as t group by __key"
                    ).fetchall()
                )
            for batch in [] if fast else self.batches(size, rows):  # a string_agg holds its key's text
                found.update(
                    (k, (n, h))
                    for k, n, h in self.con.execute(
                        "select __key, count(*), "
                        "md5(string_agg(to_json(t)::varchar, chr(10) order by __rn)) "
                        f"from {table} as t where {_span(batch)} group by __key"
                    ).fetchall()
                )
            for k in self.keys:
                n, h = found.get(k, (0, ""))
                counts[k][name] = n
                parts[k].append(f"{head}:{n}:{h}")
        self.counts = counts
        return {k: hashlib.sha256("\n".join(v).encode()).hexdigest() for k, v in parts.items()}, counts

    # --- 2. the results of the keys to render --------------------------------------------------------

    def fetch(self, keys: list[str], href) -> tuple[dict[str, dict[str, Result]], dict[str, dict]]:
        """key -> query -> Result, and key -> {(query, line): Prebuilt} for the tables built in SQL.
        `href(url)` is the page's link for an internal URL (PageRender.href). The row counts are the
        ones `digests` computed (counted again here when it did not run)."""
        counts = self.counts
        out: dict[str, dict[str, Result]] = {k: {} for k in keys}
        prebuilt: dict[str, dict] = {k: {} for k in keys}
        if not keys:
            return out, prebuilt
        self.con.execute(
            f"create or replace temp table {RENDER_TABLE} as select unnest(?::varchar[]) as __key", [keys]
        )
        self._span = _span(keys)
        # the links' hrefs are kept for the whole page: a URL (a client) linked from many batches'
        # keys is computed once
        self.con.execute(
            f"create temp table if not exists {HREFS_TABLE} (url varchar primary key, href varchar)"
        )
        for name in self.queries:
            if name in self.per_key:
                for k in keys:
                    out[k][name] = self.per_key[name][k]
                continue
            table, columns, types = self.stored[name]
            need_rows = set(keys)
            built = self._tables_sql(name, table, columns, types, href)
            if built is not None:
                if counts is not None:
                    found = {k: counts[k].get(name, 0) for k in keys}
                else:
                    found = dict(
                        self.con.execute(
                            f"select __key, count(*) from {table} semi join {RENDER_TABLE} using (__key) "
                            f"where {self._span} group by __key"
                        ).fetchall()
                    )
                need_rows = set()
                for line, sql in built:
                    for k, rows_json, hazard, links in self.con.execute(sql).fetchall():
                        if hazard:
                            need_rows.add(k)
                        else:
                            prebuilt[k][(name, line)] = Prebuilt(
                                rows_json, links.split("\n") if links else []
                            )
                placeholder = (None,) * len(columns)
                for k in keys:
                    if k not in need_rows:
                        out[k][name] = Result(columns, types, [placeholder] * found.get(k, 0))
                for k in need_rows:  # one table of the key needs Python: all of the key's tables do
                    for spec in self.tables[name]:
                        prebuilt[k].pop((name, spec.line), None)
            for k in need_rows:
                out[k][name] = Result(columns, types, [])
            if need_rows:
                self._fetch_rows(table, name, need_rows, out)
        return out, prebuilt

    def _fetch_rows(self, table: str, name: str, keys: set[str], out: dict[str, dict[str, Result]]) -> None:
        sql = (
            f"select * exclude (__rn) from {table} "
            f"where {self._span} and __key in (select unnest(?::varchar[])) "
            "order by __key, __rn"
        )
        try:
            rows = self.con.execute(sql, [sorted(keys)]).fetchall()
        except duckdb.Error as exc:
            raise PageQueryError(self.page, name, str(exc).strip()) from exc
        for row in rows:
            out[row[0]][name].rows.append(row[1:])

    def _tables_sql(self, name, table, columns, types, href) -> list[tuple[int, str]] | None:
        """One SQL per DataTable reading `name`: key, rows JSON, hazard, links. None when any
        table has a column the SQL formatter does not handle (all its tables are then Python's)."""
        specs = self.tables.get(name)
        if not specs:
            return None
        out = []
        relative_columns = dict(relative.pairs(columns, types))
        text_columns = {t.column: t for t in relative.texts(columns, types)}
        for spec in specs:
            cells = []
            for cid, fmt in spec.columns:
                if cid not in columns:
                    return None  # the renderer reports the unknown column
                i = columns.index(cid)
                resolved = fixed_format(fmt, types[i], cid)
                cell = None if resolved is None else sql_cells.compile_cell(cid, types[i], resolved)
                if cell is None:
                    return None
                if cid in relative_columns:
                    cell = sql_cells.relative_cell(cell, cid, relative_columns[cid])
                if cid in text_columns:
                    if fmt is not None:
                        return None  # the renderer reports it
                    t = text_columns[cid]
                    cell = sql_cells.text_cell(cell, cid, t.template, t.since, t.until)
                cells.append(cell)
            link = None
            if spec.link is not None:
                if spec.link not in columns or types[columns.index(spec.link)] != "VARCHAR":
                    return None
                link = "t." + sql_cells.quote_ident(spec.link)
                self._hrefs(table, link, href)
            href_json = "'null'" if link is None else sql_cells.json_string("h.href")
            row = (
                "'{\"c\":[' || "
                + " || ',' || ".join(c.json for c in cells)
                + " || '],\"h\":' || "
                + href_json
                + " || '}'"
            )
            hazard = " or ".join(
                [c.hazard for c in cells] + ([sql_cells.string_hazard(link)] if link else [])
            )
            rows = sql_cells.script_safe("'[' || coalesce(string_agg(__row, ',' order by __rn), '') || ']'")
            links = (
                "string_agg(distinct __link, chr(10) order by __link) filter (where __link like '/%')"
                if link
                else "null"
            )
            join = f"left join {HREFS_TABLE} as h on h.url = {link}" if link else ""
            # each row's JSON in a projection of its own, aggregated above it: DuckDB computes an
            # expression repeated in a projection once (a cell's value, its abs, its floor, …), not in
            # an aggregate's argument
            out.append(
                (
                    spec.line,
                    f"select __key, {rows}, bool_or(__hazard), {links} "
                    f"from (select t.__key, t.__rn, {row} as __row, ({hazard}) as __hazard, "
                    f"{link or 'null'} as __link "
                    f"from (select * from {table} semi join {RENDER_TABLE} using (__key) "
                    f"where {self._span}) as t {join}) "
                    "group by __key",
                )
            )
        return out

    def _hrefs(self, table: str, link: str, href) -> None:
        urls = [
            u
            for (u,) in self.con.execute(
                f"select distinct {link} from {table} as t semi join {RENDER_TABLE} using (__key) "
                f"where t.{self._span} and {link} is not null "
                f"and {link} not in (select url from {HREFS_TABLE})"
            ).fetchall()
        ]
        self.con.execute(
            f"insert into {HREFS_TABLE} select unnest(?::varchar[]), unnest(?::varchar[])",
            [urls, [href(u) for u in urls]],
        )


# types whose DuckDB hash() tells apart every two values the page could show differently (with the
# sign of a zero added for floats: hash(-0.0) = hash(0.0)); others (lists, structs, intervals, …) are
# hashed as text
_HASHABLE = re.compile(
    r"(VARCHAR|BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
    r"UHUGEINT|DECIMAL\(\d+,\d+\)|DATE|TIME|TIMESTAMP|TIMESTAMP WITH TIME ZONE|TIMESTAMP_S|TIMESTAMP_MS|"
    r"TIMESTAMP_NS|DOUBLE|FLOAT)"
)


def _row_hash(columns: list[str], types: list[str]) -> str | None:
    """SQL: a 64-bit hash of a stored row, its position within the key (__rn) included, so that
    bit_xor over a key's rows is a hash of its rows in the page's order (a row moved, changed, added
    or removed changes it). None when a column's type is not one hash() keeps apart."""
    if not all(_HASHABLE.fullmatch(t) for t in types):
        return None
    cols = [f"t.{sql_cells.quote_ident(c)}" for c in columns]
    signs = [f"signbit({c})" for c, t in zip(cols, types, strict=True) if t in ("DOUBLE", "FLOAT")]
    return f"hash(t.__rn, {', '.join([*cols, *signs])})" if cols else "hash(t.__rn)"


def _span(keys: list[str]) -> str:
    """SQL: the stored rows of a range of keys (they are in key order: DuckDB's zone maps read only
    the range's row groups; a filter of its own, not a join, for them to apply)."""
    lo, hi = (sql_cells.sql_literal(k) for k in (min(keys), max(keys)))
    return f"__key between {lo} and {hi}"


def table_specs(body_nodes: list, text: str) -> dict[str, list[TableSpec]]:
    """The queries of a page read by nothing but DataTables (`text`: the page's body and title,
    where any other use of a query's name shows), with those tables."""
    found: dict[str, list[TableSpec]] = {}
    other: set[str] = set()

    def walk(nodes) -> None:
        for node in nodes:
            ref = node.attrs.get("data")
            if node.name == "DataTable" and ref:
                specs = [c for c in node.children if c.name == "Column"]
                simple = specs and all(set(c.attrs) <= {"id", "fmt", "title", "wrap"} for c in specs)
                if simple and all(c.name in ("Column", "") for c in node.children):
                    cols = tuple((c.attrs.get("id", ""), c.attrs.get("fmt")) for c in specs)
                    found.setdefault(ref, []).append(TableSpec(ref, node.line, cols, node.attrs.get("link")))
                else:
                    other.add(ref)
            elif ref:
                other.add(ref)
            walk(node.children)

    walk(body_nodes)
    out = {}
    for name, specs in found.items():
        uses = len(re.findall(rf"(?<![\w.]){re.escape(name)}(?!\w)", text))
        if name not in other and uses == len(specs):
            out[name] = specs
    return out
