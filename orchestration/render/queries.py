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
        super().__init__(f"page {self.page}, query '{query}': {message}")


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


def open_snapshot(snapshot_db: Path, sources_dir: Path | None) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with the snapshot attached read-only.

    Evidence pages read `<source>.<query>` (sources/<source>/<query>.sql); those become views in the
    in-memory catalog so the same page files work here and in Evidence. The snapshot's own schemas are
    on the search path too, so its tables can also be named directly.
    """
    if not snapshot_db.is_file():
        raise RenderError(f"snapshot not found: {snapshot_db}")
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
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
