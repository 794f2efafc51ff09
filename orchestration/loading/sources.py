"""Reading one landing-zone file into a DuckDB temp table of text cells with physical line numbers.

The result is always `_ld_src(c0 .. cN VARCHAR, _line INTEGER)`: the cells exactly as written (no
trimming yet) and the 1-based physical line (CSV, header = line 1) or sheet row (xlsx) of each record.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .errors import FileRejected

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


def decode(data: bytes) -> tuple[str, str]:
    """(encoding, text): UTF-8 with BOM, UTF-8, else GB18030 (a superset of GBK); else rejected."""
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ("utf-8-sig",)
    else:
        candidates = ("utf-8", "gb18030")
    for encoding in candidates:
        try:
            return encoding, data.decode(encoding)  # whole-file decode; utf-8-sig drops the BOM
        except UnicodeDecodeError:
            continue
    raise FileRejected("无法识别的编码 unknown encoding: not UTF-8, UTF-8 with BOM or GB18030/GBK")


def read_source(conn: duckdb.DuckDBPyConnection, source: SourceFile) -> SourceInfo:
    if source.file_format == "xlsx":
        return _read_xlsx(conn, source.path)
    return _read_csv(conn, source.path)


def _read_csv(conn: duckdb.DuckDBPyConnection, path: Path) -> SourceInfo:
    encoding, text = decode(path.read_bytes())
    header_row = next((row for row in csv.reader(io.StringIO(text)) if row), None)
    if header_row is None:
        raise FileRejected("缺少表头 missing header row (empty file)")
    header_lines = 1 + sum(cell.count("\n") for cell in header_row)
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header_row))) + "}"

    with tempfile.TemporaryDirectory(prefix="opscenter-load-") as tmp:
        csv_path = path
        if encoding == "gb18030":
            # DuckDB reads only UTF-8 without the (downloaded) encodings extension: transcode once.
            csv_path = Path(tmp) / "utf8.csv"
            csv_path.write_text(text, encoding="utf-8")
        try:
            conn.execute(
                f"CREATE OR REPLACE TEMP TABLE _ld_csv AS SELECT * FROM read_csv({_sql_str(str(csv_path))}, "
                f"columns = {columns}, header = true, delim = ',', quote = '\"', escape = '\"', "
                "auto_detect = false)"
            )
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()
            raise FileRejected(f"CSV 格式错误 malformed CSV: {' | '.join(first[:3])}") from exc

    # Physical line of each record: records follow the header and each consumes 1 + (newlines inside
    # its quoted cells) lines. DuckDB skips empty lines, so map those "consumed slots" onto the
    # non-empty physical lines when the file has any.
    newline_count = " + ".join(
        f"coalesce(length(c{i}) - length(replace(c{i}, chr(10), '')), 0)" for i in range(len(header_row))
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ld_csv_slots AS
        SELECT *, {header_lines} + row_number() OVER (ORDER BY _ord)
                  + coalesce(sum(_nl) OVER (ORDER BY _ord ROWS BETWEEN UNBOUNDED PRECEDING
                                                             AND 1 PRECEDING), 0)
                  AS _slot
        FROM (SELECT *, rowid AS _ord, {newline_count} AS _nl FROM _ld_csv)"""
    )
    cells = ", ".join(f"c{i}" for i in range(len(header_row)))
    note = ""
    if re.search(r"(?:^|\n)\r?\n.", text, flags=re.S):  # an empty line before the end of the file
        lines = pd.Series(text.split("\n"), dtype=object)
        non_empty = np.flatnonzero(~lines.isin(["", "\r"]).to_numpy()) + 1
        consumed = conn.execute("SELECT coalesce(max(_slot + _nl), 0) FROM _ld_csv_slots").fetchall()[0][0]
        consumed = max(consumed, header_lines)
        if len(non_empty) == consumed:
            slots = pd.DataFrame({"_slot": np.arange(1, len(non_empty) + 1), "_line": non_empty})
            conn.register("_ld_slot_map", slots)
            conn.execute(
                f"""CREATE OR REPLACE TEMP TABLE {SOURCE_TABLE} AS
                SELECT {cells}, m._line::INTEGER AS _line
                FROM _ld_csv_slots s JOIN _ld_slot_map m USING (_slot) ORDER BY _ord"""
            )
            conn.unregister("_ld_slot_map")
            return SourceInfo(list(header_row), encoding)
        # Only possible when a quoted cell itself contains an empty line: count slots instead.
        note = "行号可能偏移 line numbers may be off: quoted cells contain empty lines"
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {SOURCE_TABLE} AS "
        f"SELECT {cells}, _slot::INTEGER AS _line FROM _ld_csv_slots ORDER BY _ord"
    )
    return SourceInfo(list(header_row), encoding, note)


def _read_xlsx(conn: duckdb.DuckDBPyConnection, path: Path) -> SourceInfo:
    """First sheet only; every cell as text, the frame's row i is sheet row i + 1."""
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
