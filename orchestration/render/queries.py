"""Run page SQL against the published snapshot (read-only, no file or network access)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .page_source import RenderError

_REF = re.compile(r"\$\{\s*([A-Za-z_][\w.]*)\s*\}")
_QUOTED_PARAM = re.compile(r"'\$\{\s*params\.(\w+)\s*\}'")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


class PageQueryError(RenderError):
    """A page query failed; names the page file and the query so the publish fails loudly."""

    def __init__(self, page: Path | str, query: str, message: str):
        self.page = str(page)
        self.query = query
        self.message = message
        super().__init__(f"page {self.page}, query '{query}': {message}")

    def __reduce__(self):  # pickled by value (a page render worker's error, render_worker.py)
        return (PageQueryError, (self.page, self.query, self.message))


@dataclass
class Result:
    columns: list[str]
    types: list[str]
    rows: list[tuple]

    def column(self, name: str) -> int:
        try:
            return self.columns.index(name)
        except ValueError:
            raise KeyError(name) from None


def open_snapshot(
    snapshot_db: Path,
    sources_dir: Path | None,
    memory_limit: str | None = None,
    temp_dir: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with the snapshot attached read-only.

    `memory_limit` bounds DuckDB (a template page's results for all its keys live in temp tables);
    beyond it DuckDB spills to `temp_dir`.

    Evidence pages read `<source>.<query>` (sources/<source>/<query>.sql); those become views in the
    in-memory catalog so the same page files work here and in Evidence. The snapshot's own schemas are
    on the search path too, so its tables can also be named directly.
    """
    if not snapshot_db.is_file():
        raise RenderError(f"snapshot not found: {snapshot_db}")
    config: dict = {"autoinstall_known_extensions": False}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if temp_dir is not None:
        config["temp_directory"] = str(temp_dir)
    con = duckdb.connect(":memory:", config=config)
    path = str(snapshot_db.resolve()).replace("'", "''")
    con.execute(f"ATTACH '{path}' AS snapshot (READ_ONLY)")
    schemas = [
        r[0]
        for r in con.execute(
            "select schema_name from information_schema.schemata where catalog_name = 'snapshot' "
            "order by schema_name"
        ).fetchall()
    ]
    search = ["memory.main", "snapshot.main"] + [f"snapshot.{s}" for s in schemas if s != "main"]
    con.execute(f"SET search_path = '{','.join(search)}'")
    if sources_dir and sources_dir.is_dir():
        for source in sorted(p for p in sources_dir.iterdir() if p.is_dir()):
            sql_files = sorted(source.glob("*.sql"))
            if not sql_files:
                continue
            con.execute(f'CREATE SCHEMA IF NOT EXISTS memory."{source.name}"')
            for f in sql_files:
                sql = f.read_text(encoding="utf-8").strip().rstrip(";")
                try:
                    con.execute(f'CREATE VIEW memory."{source.name}"."{f.stem}" AS {sql}')
                except duckdb.Error as exc:
                    raise PageQueryError(f, f"{source.name}.{f.stem}", str(exc).splitlines()[0]) from exc
    # Pages only read what is already attached: no files, no network, no extension downloads.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def param_sql(text: str, params: dict[str, str], page: Path, query: str) -> str:
    """Substitute ${params.x}: inside quotes as an escaped string, bare only for numbers."""

    def quoted(m: re.Match) -> str:
        name = m.group(1)
        if name not in params:
            raise PageQueryError(page, query, f"unknown parameter params.{name}")
        return "'" + str(params[name]).replace("'", "''") + "'"

    text = _QUOTED_PARAM.sub(quoted, text)

    def bare(m: re.Match) -> str:
        ref = m.group(1)
        if not ref.startswith("params."):
            return m.group(0)
        name = ref.split(".", 1)[1]
        if name not in params:
            raise PageQueryError(page, query, f"unknown parameter params.{name}")
        value = str(params[name])
        if not _NUMBER.fullmatch(value):
            raise PageQueryError(page, query, f"params.{name} is not a number; write '${{params.{name}}}'")
        return value

    return _REF.sub(bare, text)


def expand(name: str, queries: dict[str, str], params: dict[str, str], page: Path, seen=()) -> str:
    """Evidence `${other}` -> `(other's sql)` as a subquery, recursively."""
    if name in seen:
        raise PageQueryError(page, name, "circular ${} reference: " + " -> ".join((*seen, name)))
    sql = param_sql(queries[name], params, page, name)

    def sub(m: re.Match) -> str:
        ref = m.group(1)
        if ref not in queries:
            raise PageQueryError(page, name, f"${{{ref}}} is not a query on this page")
        return "(" + expand(ref, queries, params, page, (*seen, name)) + ")"

    return _REF.sub(sub, sql)


def run_queries(
    con: duckdb.DuckDBPyConnection, page: Path, queries: dict[str, str], params: dict[str, str]
) -> dict[str, Result]:
    results: dict[str, Result] = {}
    for name in queries:
        sql = expand(name, queries, params, page)
        results[name] = run_one(con, page, name, sql)
    return results


def run_one(con: duckdb.DuckDBPyConnection, page: Path, name: str, sql: str) -> Result:
    try:
        cur = con.execute(sql)
        rows = cur.fetchall()
        desc = cur.description or []
    except duckdb.Error as exc:
        raise PageQueryError(page, name, str(exc).strip()) from exc
    return Result(columns=[d[0] for d in desc], types=[str(d[1]) for d in desc], rows=rows)


# --- template pages: every query once for all keys ---------------------------------------------
KEYS_TABLE = "__opscenter_keys"
_WORD = re.compile(r"\w")
_KEYWORDS = re.compile(r"\b(select|distinct|order\s+by|limit|offset|union|except|intersect)\b", re.I)


def _top_level(sql: str) -> list[tuple[str, int, int]]:
    """Keywords at parenthesis depth 0, outside quotes and comments: (keyword, start, end)."""
    found, depth, i = [], 0, 0
    while i < len(sql):
        ch = sql[i]
        if ch in "'\"":
            end = sql.find(ch, i + 1)
            while end != -1 and sql[end + 1 : end + 2] == ch:  # doubled quote inside a literal
                end = sql.find(ch, end + 2)
            i = len(sql) if end == -1 else end + 1
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end == -1 else end
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and (m := _KEYWORDS.match(sql, i)) and (i == 0 or not _WORD.match(sql[i - 1])):
            found.append((re.sub(r"\s+", " ", m.group(1).lower()), m.start(), m.end()))
            i = m.end()
            continue
        i += 1
    return found


def keyed_sql(sql: str, keys_table: str) -> str | None:
    """One template query (already expanded, the parameter replaced by `<keys_table>.__key`) as a
    set-based query over every key of `keys_table` (__pos, __key): a LATERAL join of the keys with the page's
    query, whose ORDER BY becomes a row number within the key (DuckDB decorrelates it into a window
    partitioned by the key) and whose LIMIT n keeps each key's first n rows. Rows come out ordered
    by key position, then by the page's order. None when the shape is not supported (a top-level
    UNION/EXCEPT/INTERSECT, SELECT DISTINCT, OFFSET, or not a single SELECT): run per key then."""
    words = _top_level(sql)
    names = [w for w, _, _ in words]
    if not names or names[0] != "select" or words[0][1] != 0 or names.count("select") != 1:
        return None
    if {"union", "except", "intersect", "offset"} & set(names) or (len(names) > 1 and names[1] == "distinct"):
        return None
    if names.count("order by") > 1 or names.count("limit") > 1:
        return None
    cut = len(sql)
    order, limit = "", None
    for word, start, end in words:
        if word in ("order by", "limit"):
            cut = min(cut, start)
        if word == "order by":
            stop = next((s for w, s, _ in words if w == "limit" and s > start), len(sql))
            order = sql[end:stop].strip()
        if word == "limit":
            limit = sql[end:].strip()
            if not re.fullmatch(r"\d+", limit):
                return None
    over = f"order by {order}" if order else ""
    inner = f"select row_number() over ({over}) as __rn, {sql[words[0][2] : cut].strip()}"
    where = f" where __q.__rn <= {limit}" if limit else ""
    return (
        f"select {keys_table}.__key as __key, __q.* from {keys_table}, lateral ({inner}) as __q{where} "
        f"order by {keys_table}.__pos, __q.__rn"
    )


def keyed_query(name: str, queries: dict[str, str], param: str, page: Path) -> str | None:
    """A template page's query `name` for every key of KEYS_TABLE at once (keyed_sql), or None
    when it must run once per key (a bare numeric parameter, or a shape keyed_sql refuses)."""
    marker = "__opscenter_param__"
    try:
        sql = expand(name, queries, {param: marker}, page)
    except PageQueryError:  # a bare ${params.x}: a number, substituted per key
        return None
    quoted = "'" + marker + "'"
    if marker in sql.replace(quoted, ""):  # used unquoted (a number) or inside a literal
        return None
    return keyed_sql(sql.replace(quoted, f"{KEYS_TABLE}.__key"), KEYS_TABLE)


def run_template_queries(
    con: duckdb.DuckDBPyConnection, page: Path, queries: dict[str, str], param: str, keys: list[str]
) -> dict[str, dict[str, Result]]:
    """Every query of a template page for all its keys: key -> {query name -> Result}, each key's
    result equal to running the page's query with that parameter value (same rows, same order).

    The parameter `'${params.<param>}'` becomes a column of a keys table joined LATERAL to the query
    (see keyed_sql), so each query runs once, set-based, instead of once per key. A query whose
    shape keyed_sql does not support, or that DuckDB cannot run that way (e.g. an ORDER BY on a
    select alias, which a window cannot name), runs once per key, as before."""
    con.execute(
        f"create or replace temp table {KEYS_TABLE} as "
        "select unnest(range(?)) as __pos, unnest(?::varchar[]) as __key",
        [len(keys), keys],
    )
    out: dict[str, dict[str, Result]] = {k: {} for k in keys}
    try:
        for name in queries:
            keyed = keyed_query(name, queries, param, page)
            try:
                res = None if keyed is None else run_one(con, page, name, keyed)
            except PageQueryError:
                res = None  # its own error, if any, is reported by the per-key run below
            if res is None:
                for k in keys:
                    out[k][name] = run_one(con, page, name, expand(name, queries, {param: k}, page))
                continue
            columns, types = res.columns[2:], res.types[2:]
            for k in keys:
                out[k][name] = Result(columns=columns, types=types, rows=[])
            for row in res.rows:
                out[row[0]][name].rows.append(row[2:])
    finally:
        con.execute(f"drop table if exists {KEYS_TABLE}")
    return out
