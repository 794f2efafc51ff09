"""Scan a published folder for personal data left unmasked: mobile numbers and credit codes.

Looks into every file: DuckDB databases (every text/JSON/wide-integer column of every table),
Parquet files (same columns) and any other file that reads as text (HTML, JSON, CSV, JS, ...).
Binary files that are none of these (images, fonts) are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from orchestration.publish.masking import CC_CHARS, quote

# Mainland mobile: 1[3-9] + 9 digits, not part of a longer digit run nor the fraction of a decimal
# number (metrics like 0.011029411764705883 are not personal data).
PHONE_RE = re.compile(r"(?<![0-9.])1[3-9][0-9]{9}(?![0-9])")
# Unified social credit code: 2 code chars, 6-digit region code, 10 code chars, standing alone.
CREDIT_CODE_RE = re.compile(rf"(?<![0-9A-Za-z.]){CC_CHARS}{{2}}[0-9]{{6}}{CC_CHARS}{{10}}(?![0-9A-Za-z])")
# Same patterns for DuckDB's RE2 (no look-around: the guards are part of the match).
PHONE_SQL = r"(^|[^0-9.])1[3-9][0-9]{9}([^0-9]|$)"
CREDIT_CODE_SQL = rf"(^|[^0-9A-Za-z.]){CC_CHARS}{{2}}[0-9]{{6}}{CC_CHARS}{{10}}([^0-9A-Za-z]|$)"

# An 11-digit phone fits only in a 64-bit-or-wider integer; narrower numbers cannot hold one.
SCANNED_TYPES = ("VARCHAR", "JSON", "BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT")
DUCKDB_SUFFIXES = (".duckdb", ".db")
BINARY_SNIFF = 8192


def find_unmasked_personal_data(folder: Path | str) -> list[str]:
    """Every place under `folder` holding an unmasked mobile number or credit code, as readable
    strings `<file>[: <where>]: <n> <kind>`; empty when the folder is clean."""
    folder = Path(folder)
    findings: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(folder).as_posix()
        if path.suffix in DUCKDB_SUFFIXES:
            findings += [f"{rel}: {f}" for f in _scan_duckdb(path)]
        elif path.suffix == ".parquet":
            findings += [f"{rel}: {f}" for f in _scan_parquet(path)]
        else:
            findings += [f"{rel}: {f}" for f in _scan_text(path)]
    return findings


def _column_counts(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> list[str]:
    if not columns:
        return []
    aggs = []
    for c in columns:
        v = f"CAST({quote(c)} AS VARCHAR)"
        aggs.append(f"count(*) FILTER (WHERE regexp_matches({v}, '{PHONE_SQL}'))")
        aggs.append(f"count(*) FILTER (WHERE regexp_matches({v}, '{CREDIT_CODE_SQL}'))")
    counts = con.execute(f"SELECT {', '.join(aggs)} FROM {relation}").fetchone()
    out = []
    for i, c in enumerate(columns):
        phones, codes = counts[2 * i], counts[2 * i + 1]
        if phones:
            out.append(f"{c}: {phones} unmasked mobile number(s)")
        if codes:
            out.append(f"{c}: {codes} unmasked credit code(s)")
    return out


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


def _scan_text(path: Path) -> list[str]:
    data = path.read_bytes()
    if b"\x00" in data[:BINARY_SNIFF]:
        return []
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return []
    findings = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        phones = len(PHONE_RE.findall(line))
        codes = len(CREDIT_CODE_RE.findall(line))
        if phones:
            findings.append(f"line {lineno}: {phones} unmasked mobile number(s)")
        if codes:
            findings.append(f"line {lineno}: {codes} unmasked credit code(s)")
    return findings
