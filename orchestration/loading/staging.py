"""One file's cells → typed rows, reject reasons and line numbers, set-based in DuckDB temp tables."""

from __future__ import annotations

import csv
import json

from orchestration.contract import DATE, ENTITIES, PERIOD, TIMESTAMP

from .options import DateBounds
from .parsing import lit, parse_sql, reason_sql, row_rule_sql
from .results import FileStats
from .sources import SOURCE_TABLE, SourceFile

INCOMPLETE_LINE = (
    "末行不完整 incomplete final line: the file does not end with a line break, the record may have "
    "been cut mid-value; not loaded"
)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def same_key(spec, left: str, right: str) -> str:
    """Join condition: the rows of aliases `left` and `right` have the same primary key."""
    return " AND ".join(
        f"{left}.{quote_ident(k)} IS NOT DISTINCT FROM {right}.{quote_ident(k)}" for k in spec.primary_key
    )


def raw_columns(spec) -> str:
    """The raw table's columns, quoted, in order: contract columns then lineage."""
    return ", ".join(quote_ident(c) for c in spec.column_names + ["_source_file", "_source_line", "_extra"])


def kept_rows_sql(entity: str, source_file: str, stage: str) -> str:
    """SQL of the accepted rows of one staged file, as `_ld_rows` columns (read in place, not copied)."""
    cols = ", ".join(quote_ident(c) for c in ENTITIES[entity].column_names)
    return (
        f"SELECT {cols}, {lit(source_file)} AS _source_file, _line AS _source_line, _extra, false AS _prior "
        f"FROM {stage} WHERE NOT _empty AND _reason IS NULL"
    )


def keep_rejects(conn, entity: str, source_file: str, load_id: str, stage: str) -> None:
    conn.execute(
        f"INSERT INTO _ld_rejects SELECT {lit(load_id)}, {lit(entity)}, {lit(source_file)}, _line, _reason, "
        f"raw_record FROM {stage} WHERE NOT _empty AND _reason IS NOT NULL ORDER BY _line"
    )


def reject_tail(conn, entity, source: SourceFile, keys: list[str], copy, stats: FileStats) -> str:
    """The held-back final line: a reject row (never silently dropped), unless it is an empty record."""
    cells = next(csv.reader([copy.tail]), [])
    if not any(c.strip() for c in cells):
        stats.empty_rows_skipped += 1
        return ""
    record = {(keys[i] if i < len(keys) else f"_col{i + 1}"): c for i, c in enumerate(cells)}
    conn.execute(
        "INSERT INTO _ld_rejects VALUES (?, ?, ?, ?, ?, ?::JSON)",
        [stats.read_load_id, entity, source.source_file, copy.tail_line, INCOMPLETE_LINE,
         json.dumps(record, ensure_ascii=False)],
    )  # fmt: skip
    stats.rows_read += 1
    stats.rows_rejected += 1
    return f"末行不完整 incomplete final line {copy.tail_line} rejected"


def dates_seen(conn, entity: str, bounds: DateBounds, stage: str) -> tuple:
    """Earliest date, latest date within the upper bound, earliest beyond it (rejected rows included)."""
    as_date = {DATE: "{}", TIMESTAMP: "{}::DATE", PERIOD: "({} || '-01')::DATE"}
    columns = [c for c in ENTITIES[entity].columns if c.type in as_date]
    exprs = [as_date[c.type].format(quote_ident(c.name)) for c in columns]
    if not exprs:
        return None, None, None
    upper = f"DATE '{bounds.upper.isoformat()}'"
    return conn.execute(
        f"""SELECT min(d), max(d) FILTER (WHERE d <= {upper}), min(d) FILTER (WHERE d > {upper})
        FROM (SELECT unnest([{", ".join(exprs)}]) AS d FROM {stage} WHERE NOT _empty)"""
    ).fetchall()[0]


def stage_file(conn, entity: str, hm, bounds: DateBounds, stage: str, source: str = SOURCE_TABLE) -> None:
    """One SELECT over the file's cells (`source`: the table or subquery read_source named) into the
    temp table `stage`: typed columns, reject reason, raw record, extras.

    Every cell is cleaned once (`k<i>`); the raw record (JSON of the cells as written) is built for
    rejected rows only, the only ones that keep it; the table holds what the later steps read."""
    spec = ENTITIES[entity]

    def v(name: str) -> str:
        return quote_ident("v:" + name)

    def p(name: str) -> str:
        return quote_ident(name)

    width = len(hm.keys)
    cleaned = [f"_ld_clean(c{i}) AS k{i}" for i in range(width)]
    values = [
        (f"k{hm.columns[c.name]}" if c.name in hm.columns else "NULL::VARCHAR") + f" AS {v(c.name)}"
        for c in spec.columns
    ]
    raw_record = "json_object(" + ", ".join(f"{lit(k)}, c{i}" for i, k in enumerate(hm.keys)) + ")"
    extra = (
        "json_object(" + ", ".join(f"{lit(hm.keys[i])}, c{i}" for i in hm.extras) + ")"
        if hm.extras
        else "'{}'::JSON"
    )
    empty = " AND ".join(f"k{i} IS NULL" for i in range(width)) or "true"
    parsed = [f"{parse_sql(c, v(c.name))} AS {p(c.name)}" for c in spec.columns]
    reasons = [reason_sql(c, v(c.name), p(c.name), bounds) for c in spec.columns]
    reasons += [row_rule_sql(spec, left, op, right, p) for left, op, right in spec.row_rules]
    typed_columns = [p(c.name) for c in spec.columns]  # the cleaned texts are only needed for the reasons
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE {stage} AS
        WITH cleaned AS (
            SELECT *, {", ".join(cleaned)} FROM {source}
        ), cells AS (
            SELECT *, {empty} AS _empty, {extra} AS _extra, {", ".join(values)} FROM cleaned
        ), typed AS (
            SELECT *, {", ".join(parsed)} FROM cells
        ), checked AS (
            SELECT *, nullif(concat_ws('; ', {", ".join(reasons)}), '') AS _reason FROM typed
        )
        SELECT _line, _empty, CASE WHEN _reason IS NOT NULL THEN {raw_record} END AS raw_record, _extra,
               {", ".join(typed_columns)}, _reason
        FROM checked"""
    )
