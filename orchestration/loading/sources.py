"""Reading one landing-zone file into a DuckDB temp table of text cells with physical line numbers.

The result is always `_ld_src(c0 .. cN VARCHAR, _line INTEGER)`: the cells exactly as written (no
trimming yet) and the 1-based physical line (CSV, header = line 1) or sheet row (xlsx) of each record.
CSV files are streamed into a UTF-8 working copy (transcode.py) that DuckDB reads; no CSV is ever
held whole in Python memory.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .errors import FileRejected
from .filescan import FileScan, open_source
from .options import LoadOptions
from .transcode import Transcoded, transcode

SOURCE_TABLE = "_ld_src"
SUFFIXES = {".csv": "csv", ".xlsx": "xlsx"}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source_file: str  # relative to the landing zone, posix: `payments/2026-11-20.csv`
    file_order: int  # 1-based position in name order
    file_format: str  # 'csv' | 'xlsx'


@dataclass
class SourceInfo:
    headers: list[object]
    encoding: str | None
    note: str = ""
    copy: Transcoded | None = None  # CSV only: line bookkeeping of the working copy


def list_files(raw_dir: Path, entity: str) -> list[SourceFile] | None:
    """The entity's files in name order; None when the folder does not exist.

    Only `*.csv` / `*.xlsx` (any case) directly in the folder count; Excel lock files (`~$…`) and
    hidden files are ignored.
    """
    folder = Path(raw_dir) / entity
    if not folder.is_dir():
        return None
    paths = sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(("~$", "."))
        ),
        key=lambda p: p.name,
    )
    return [
        SourceFile(p, f"{entity}/{p.name}", i, SUFFIXES[p.suffix.lower()]) for i, p in enumerate(paths, 1)
    ]


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_source(
    conn: duckdb.DuckDBPyConnection, source: SourceFile, scan: FileScan | None, options: LoadOptions
) -> SourceInfo:
    if source.file_format == "xlsx":
        return _read_xlsx(conn, source.path)
    with tempfile.TemporaryDirectory(prefix="opscenter-load-", dir=options.temp_dir) as tmp:
        copy = transcode(source.path, Path(tmp) / "utf8.csv", scan, options.chunk_bytes)
        header_row, header_lines = _header(copy.path)
        _read_records(conn, copy.path, len(header_row))
    note = _place_lines(conn, len(header_row), header_lines, copy)
    return SourceInfo(list(header_row), scan.encoding, "; ".join(n for n in (scan.note, note) if n), copy)


def _header(path: Path) -> tuple[list[str], int]:
    """The first non-empty record of the working copy and the physical lines it spans."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header_row = next((row for row in reader if row), None)
        except csv.Error as exc:
            raise FileRejected(f"CSV 格式错误 malformed CSV header: {exc}") from exc
    if header_row is None:
        raise FileRejected("缺少表头 missing header row (empty file)")
    return header_row, 1 + sum(cell.count("\n") for cell in header_row)


def _read_records(conn, path: Path, width: int) -> None:
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    try:
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE _ld_csv AS SELECT * FROM read_csv({_sql_str(str(path))}, "
            f"columns = {columns}, header = true, delim = ',', quote = '\"', escape = '\"', "
            "auto_detect = false)"
        )
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()
        raise FileRejected(f"CSV 格式错误 malformed CSV: {' | '.join(first[:3])}") from exc


def _place_lines(conn, width: int, header_lines: int, copy: Transcoded) -> str:
    """SOURCE_TABLE = records with their physical line, set-based.

    A record takes 1 + (newlines inside its quoted cells) "slots" of non-empty lines; DuckDB skips
    empty lines, so slot k is the k-th non-empty physical line: k + (empty lines before it).
    """
    newline_count = " + ".join(
        f"coalesce(length(c{i}) - length(replace(c{i}, chr(10), '')), 0)" for i in range(width)
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ld_csv_slots AS
        SELECT *, {header_lines} + row_number() OVER (ORDER BY _ord)
                  + coalesce(sum(_nl) OVER (ORDER BY _ord ROWS BETWEEN UNBOUNDED PRECEDING
                                                             AND 1 PRECEDING), 0)
                  AS _slot
        FROM (SELECT *, rowid AS _ord, {newline_count} AS _nl FROM _ld_csv)"""
    )
    cells = ", ".join(f"c{i}" for i in range(width))
    consumed = conn.execute("SELECT coalesce(max(_slot + _nl), 0) FROM _ld_csv_slots").fetchall()[0][0]
    if copy.empty_lines and copy.lines - len(copy.empty_lines) != max(consumed, header_lines):
        # Only possible when a quoted cell itself contains an empty line: count slots instead.
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {SOURCE_TABLE} AS "
            f"SELECT {cells}, _slot::INTEGER AS _line FROM _ld_csv_slots ORDER BY _ord"
        )
        return "行号可能偏移 line numbers may be off: quoted cells contain empty lines"
    conn.execute("CREATE OR REPLACE TEMP TABLE _ld_empty (e INTEGER)")
    if copy.empty_lines:
        conn.execute("INSERT INTO _ld_empty SELECT unnest(?::INTEGER[])", [copy.empty_lines])
    # Per empty line: non-empty lines before it (nb) and empty lines up to it (c); slot k lies after
    # the last empty line with nb < k.
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE {SOURCE_TABLE} AS
        WITH empties AS (
            SELECT e - row_number() OVER (ORDER BY e) AS nb, row_number() OVER (ORDER BY e) AS c
            FROM _ld_empty
        ), steps AS (SELECT nb, max(c) AS c FROM empties GROUP BY nb)
        SELECT {cells}, (s._slot + coalesce(st.c, 0))::INTEGER AS _line
        FROM _ld_csv_slots s ASOF LEFT JOIN steps st ON s._slot > st.nb
        ORDER BY s._ord"""
    )
    return ""


def _read_xlsx(conn: duckdb.DuckDBPyConnection, path: Path) -> SourceInfo:
    """First sheet only; every cell as text, the frame's row i is sheet row i + 1."""
    open_source(path).close()  # a vanished or unreadable file gets its own reason
    try:
        # dtype=str: integer-valued numbers come back as `1500`, text cells untouched, dates as
        # `YYYY-MM-DD HH:MM:SS`; na_filter=False keeps texts like `NA` and gives '' for empty cells.
        frame = pd.read_excel(path, sheet_name=0, header=None, dtype=str, na_filter=False, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is a file-level rejection
        raise FileRejected(f"无法读取 xlsx unreadable workbook: {exc}") from exc
    if frame.empty:
        raise FileRejected("缺少表头 missing header row (empty sheet)")
    headers = frame.iloc[0].tolist()
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = [f"c{i}" for i in range(len(headers))]
    for name in body.columns:
        # An Excel date cell at midnight is a date: `2026-01-05 00:00:00` -> `2026-01-05`.
        body[name] = body[name].astype(str).str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", r"\1", regex=True)
    body["_line"] = np.arange(2, len(body) + 2, dtype=np.int32)
    conn.register("_ld_xlsx", body)
    try:
        casts = ", ".join(f"c{i}::VARCHAR AS c{i}" for i in range(len(headers)))
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {SOURCE_TABLE} AS "
            f"SELECT {casts}, _line::INTEGER AS _line FROM _ld_xlsx ORDER BY _line"
        )
    finally:
        conn.unregister("_ld_xlsx")
    return SourceInfo(headers, None)
