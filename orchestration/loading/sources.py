"""Reading one landing-zone file into a DuckDB temp table of text cells with physical line numbers.

The result is always a relation `(c0 .. cN VARCHAR, _line INTEGER)` (`_ld_src`, or a subquery over
the CSV's records when no line moved): the cells exactly as written (no trimming yet) and the
1-based physical line (CSV, header = line 1) or sheet row (xlsx) of each record.
CSV files are streamed into a UTF-8 working copy (transcode.py) that DuckDB reads; no CSV is ever
held whole in Python memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import openpyxl

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
    relation: str = SOURCE_TABLE  # what to select the cells and `_line` from (a table or a subquery)


def list_files(raw_dir: Path, entity: str) -> list[SourceFile] | None:
    """The entity's files in name order; None when the folder does not exist.

    Every entry named `*.csv` / `*.xlsx` (any case) directly in the folder counts, whatever it is: a
    directory, broken symbolic link or FIFO under a data file's name is listed too, so the loader
    rejects it with a reason (`filescan.not_a_file`) instead of passing over it in silence. Excel
    lock files (`~$…`) and hidden files are ignored.
    """
    folder = Path(raw_dir) / entity
    if not folder.is_dir():
        return None
    paths = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and not p.name.startswith(("~$", "."))),
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
        return read_xlsx(conn, source.path, options)
    with tempfile.TemporaryDirectory(prefix="opscenter-load-", dir=options.temp_dir) as tmp:
        copy = transcode(source.path, Path(tmp) / "utf8.csv", scan, options.chunk_bytes)
        header_row, header_lines = _header(copy.path)
        _read_records(conn, copy.path, len(header_row))
    note, relation = _place_lines(conn, len(header_row), header_lines, copy)
    note = "; ".join(n for n in (scan.note, note) if n)
    return SourceInfo(list(header_row), scan.encoding, note, copy, relation)


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
        raise FileRejected(f"CSV 格式错误 malformed CSV: {_csv_error(exc)}") from exc


def _csv_error(exc: Exception) -> str:
    """DuckDB's message without the offending line's text (it may hold personal data and this
    message travels to raw.load_files, the Dagster failure and ops alerts): where and what only."""
    text = str(exc).split("Possible fixes")[0]
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and not ln.startswith("Original Line")]
    return " | ".join(lines[:3])


def _place_lines(conn, width: int, header_lines: int, copy: Transcoded) -> tuple[str, str]:
    """Records with their physical line, set-based: (note, relation holding them).

    A record takes 1 + (newlines inside its quoted cells) "slots" of non-empty lines; DuckDB skips
    empty lines, so slot k is the k-th non-empty physical line: k + (empty lines before it).
    When every record is one line and no line is empty (the usual export), record i is line
    header + i and no window is needed: the relation is then a subquery over the records, not a copy.
    """
    cells = ", ".join(f"c{i}" for i in range(width))
    records = conn.execute("SELECT count(*) FROM _ld_csv").fetchall()[0][0]
    if not copy.empty_lines and copy.lines == header_lines + records:
        return "", f"(SELECT {cells}, (rowid + {header_lines + 1})::INTEGER AS _line FROM _ld_csv)"
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
    consumed = conn.execute("SELECT coalesce(max(_slot + _nl), 0) FROM _ld_csv_slots").fetchall()[0][0]
    if copy.empty_lines and copy.lines - len(copy.empty_lines) != max(consumed, header_lines):
        # Only possible when a quoted cell itself contains an empty line: count slots instead.
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {SOURCE_TABLE} AS "
            f"SELECT {cells}, _slot::INTEGER AS _line FROM _ld_csv_slots ORDER BY _ord"
        )
        return "行号可能偏移 line numbers may be off: quoted cells contain empty lines", SOURCE_TABLE
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
    return "", SOURCE_TABLE


def read_xlsx(conn: duckdb.DuckDBPyConnection, path: Path, options: LoadOptions) -> SourceInfo:
    """First sheet only, streamed row by row (openpyxl read-only) into a CSV working copy of text cells
    plus the sheet row, which DuckDB reads; the workbook is never held whole in memory."""
    with tempfile.TemporaryDirectory(prefix="opscenter-load-", dir=options.temp_dir) as tmp:
        copy = Path(tmp) / "sheet.csv"
        headers = _sheet_to_csv(path, copy)
        names = [f"c{i}" for i in range(len(headers))] + ["_line"]
        columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {SOURCE_TABLE} AS SELECT * REPLACE (_line::INTEGER AS _line) "
            f"FROM read_csv({_sql_str(str(copy))}, columns = {columns}, header = false, delim = ',', "
            "quote = '\"', escape = '\"', auto_detect = false) ORDER BY _line"
        )
    return SourceInfo(headers, None)


def _sheet_to_csv(path: Path, dest: Path) -> list[str]:
    open_source(path).close()  # a vanished or unreadable file gets its own reason
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is a file-level rejection
        raise FileRejected(f"无法读取 xlsx unreadable workbook: {exc}") from exc
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or not any(c is not None for c in header):
            raise FileRejected("缺少表头 missing header row (empty sheet)")
        headers = [_cell_text(c) for c in header]
        with open(dest, "w", encoding="utf-8", newline="") as fh:
            _write_sheet_rows(csv.writer(fh, quoting=csv.QUOTE_ALL), rows, len(headers))
    finally:
        wb.close()
    return headers


def _write_sheet_rows(writer, rows, width: int) -> None:
    for line, values in enumerate(rows, start=2):
        cells = [_cell_text(c) for c in values]
        if len(cells) > width and any(cells[width:]):
            raise FileRejected(
                f"xlsx 第 {line} 行超出表头列数 sheet row {line} has cells beyond the header's columns"
            )
        writer.writerow([*(cells + [""] * width)[:width], line])


def _cell_text(value: object) -> str:
    """A cell as text: integer-valued numbers `1500`, midnight date cells `YYYY-MM-DD`, others str()."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time() else str(value)
    return str(value)
