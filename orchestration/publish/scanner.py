"""Scan a published folder for personal data left unmasked: mobile numbers and credit codes.

Looks into every file with the masking module's normaliser (full-width digits, separators, +86
prefixes, lower case): DuckDB databases (every text/JSON/wide-integer column of every table),
Parquet files (same columns) and every other file as text, the manifest included. A file with NUL
bytes is still read (UTF-16 when it looks like it, else with the NULs as spaces); only known image,
font and archive formats (by their magic bytes) are skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import duckdb

from orchestration.publish import masking
from orchestration.publish.masking import CC_IN_TEXT, PHONE_IN_TEXT, count_personal_data, quote, unescape_sql

# An 11-digit phone fits only in a 64-bit-or-wider integer; narrower numbers cannot hold one.
SCANNED_TYPES = ("VARCHAR", "JSON", "BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT")
DUCKDB_SUFFIXES = (".duckdb", ".db")
BINARY_MAGIC = (
    b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"wOFF", b"wOF2",  # images, web fonts
    b"\x1f\x8b", b"PK\x03\x04", b"\x00\x01\x00\x00",  # gzip, zip, TrueType
)  # fmt: skip


def scanner_version() -> str:
    """Hash of what decides a finding (this module and the masking patterns): a file scanned clean
    under the same version need not be scanned again."""
    h = hashlib.sha256()
    for module in (Path(__file__), Path(masking.__file__)):
        h.update(module.read_bytes())
    return h.hexdigest()[:16]


def find_unmasked_personal_data(folder: Path | str, skip: Callable[[Path], bool] | None = None) -> list[str]:
    """Every place under `folder` holding an unmasked mobile number or credit code, as readable
    strings `<file>[: <where>]: <n> <kind>`; empty when the folder is clean. `skip(path)` true: a
    file already scanned clean (the publisher passes the files hard-linked from the version it
    published, scanned then under the same scanner_version)."""
    folder = Path(folder)
    findings: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        if skip is not None and skip(path):
            continue
        rel = path.relative_to(folder).as_posix()
        if path.suffix in DUCKDB_SUFFIXES:
            found = _scan_duckdb(path)
        elif path.suffix == ".parquet":
            found = _scan_parquet(path)
        else:
            found = _scan_text(path)
        findings += [f"{rel}: {f}" for f in found]
    return findings


def _sql(pattern: str) -> str:
    return pattern.replace("'", "''")


def _kinds(phones: int, codes: int) -> list[str]:
    out = []
    if phones:
        out.append(f"{phones} unmasked mobile number(s)")
    if codes:
        out.append(f"{codes} unmasked credit code(s)")
    return out


def _column_counts(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> list[str]:
    if not columns:
        return []
    aggs = []
    for c in columns:
        v = unescape_sql(f"CAST({quote(c)} AS VARCHAR)")
        aggs.append(f"count(*) FILTER (WHERE regexp_matches({v}, '{_sql(PHONE_IN_TEXT)}'))")
        aggs.append(f"count(*) FILTER (WHERE regexp_matches({v}, '{_sql(CC_IN_TEXT)}'))")
    counts = con.execute(f"SELECT {', '.join(aggs)} FROM {relation}").fetchone()
    return [f"{c}: {k}" for i, c in enumerate(columns) for k in _kinds(counts[2 * i], counts[2 * i + 1])]


def _scanned(dtype: str) -> bool:
    return dtype in SCANNED_TYPES or dtype.startswith("VARCHAR")


def _scan_duckdb(path: Path) -> list[str]:
    findings = []
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            cols = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
                "ORDER BY column_index",
                [schema, table],
            ).fetchall()
            wanted = [c for c, t in cols if _scanned(t)]
            relation = f"{quote(schema)}.{quote(table)}"
            findings += [f"{schema}.{table}.{f}" for f in _column_counts(con, relation, wanted)]
    finally:
        con.close()
    return findings


def _scan_parquet(path: Path) -> list[str]:
    con = duckdb.connect()
    try:
        relation = f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"
        cols = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        return _column_counts(con, relation, [c[0] for c in cols if _scanned(c[1])])
    finally:
        con.close()


def _decode(data: bytes) -> str | None:
    """The file as text, or None for a known binary format."""
    if data.startswith(BINARY_MAGIC):
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[1:200:2].count(0) > 50:
        return data.decode("utf-16", errors="replace")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("gb18030", errors="replace")
    return text.replace("\x00", " ")


# SVG geometry in markup (e.g. the dbt docs' icons: points="11 11 5 11 5 12 …") is coordinates, never
# data, and spaced digit runs in it read like a spaced credit code: blanked before the scan.
_SVG_GEOMETRY = re.compile(r"""\b(points|d|viewBox|transform)=("[^"]*"|'[^']*')""")


def _scan_text(path: Path) -> list[str]:
    text = _decode(path.read_bytes())
    if text is None:
        return []
    text = _SVG_GEOMETRY.sub(r'\1=""', text)
    findings = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        findings += [f"line {lineno}: {k}" for k in _kinds(*count_personal_data(line))]
    return findings
