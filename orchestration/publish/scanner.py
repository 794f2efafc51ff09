"""Scan a published folder for personal data left unmasked: mobile numbers and credit codes.

Looks into every file with the masking module's normaliser (full-width digits, separators, +86
prefixes, lower case): DuckDB databases (every text/JSON/wide-integer column of every table),
Parquet files (same columns) and every other file as text, the manifest included. A file with NUL
bytes is still read (UTF-16 when it looks like it, else with the NULs as spaces); only known image,
font and archive formats (by their magic bytes) are skipped.

Each published table's data is regex-scanned once: a Parquet file whose content fingerprint
(fingerprint.py: names, types, rows, row hashes) equals a table of a scanned database is the same data,
so it gets that table's findings without a second scan; and a table whose fingerprint equals a
Parquet file already scanned clean (`skip`: hard-linked from the previous version) is not scanned
again. Only values of at least MIN_PII_CHARS characters go through the regular expressions, and in a
large stored table once per distinct value of each column (`_distinct_counts`: the same counts).

A changed table is scanned row by row only where it is new: with a `baselines` file for it (the
previous version's Parquet file of the same table, scanned clean), a row whose scanned columns (same
names and types in both) hash to a row of that file holds the very values found clean there, so only
the other rows go through the regular expressions. Counts stay exact: a row holding a number is never
in a clean file, so every such row is among those scanned (a 64-bit hash collision aside, the same
bet the fingerprints make). At 100,000 clients a night's new task rows are a few thousand of 8.8 M.

A table the snapshot builder patched or kept (`prescanned`) is not read at all: the builder hands
its row count, its fingerprint (computed by the builder's hash pass over the finished table) and the
findings of the rows it inserted (`scan_relation` over exactly those rows, in the builder); the rest
of the table is the copied table of the previous version, scanned clean. Only the row count is read
again (a table whose count is not the builder's is scanned as above). The Parquet file written from
it is still read and fingerprinted: it gets those findings only if it holds the same data.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.publish import fingerprint as fingerprint_module
from orchestration.publish import masking
from orchestration.publish.fingerprint import digest, fingerprint
from orchestration.publish.masking import (
    CC_IN_TEXT,
    MIN_PII_CHARS,
    PHONE_IN_TEXT,
    PII_IN_TEXT,
    count_personal_data,
    quote,
    unescape,
    unescape_sql,
)

# An 11-digit phone fits only in a 64-bit-or-wider integer; narrower numbers cannot hold one.
SCANNED_TYPES = ("VARCHAR", "JSON", "BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT")
DUCKDB_SUFFIXES = (".duckdb", ".db")
BINARY_MAGIC = (
    b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"wOFF", b"wOF2",  # images, web fonts
    b"\x1f\x8b", b"PK\x03\x04", b"\x00\x01\x00\x00",  # gzip, zip, TrueType
)  # fmt: skip
# A relation of at most this many values (rows x scanned columns) is scanned unpivoted (_narrow_counts)
NARROW_MAX_VALUES = 1_000_000
TEXT_BATCH_CHARS = 16_000_000  # characters of text files regex-scanned per DuckDB query (~100 MB)


def scanner_version() -> str:
    """Hash of what decides a finding (this module and the masking patterns): a file scanned clean
    under the same version need not be scanned again."""
    h = hashlib.sha256()
    for module in (Path(__file__), Path(masking.__file__), Path(fingerprint_module.__file__)):
        h.update(module.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Prescanned:
    """A snapshot table as its builder left it: `rows`, `fingerprint` and the findings of the rows
    it added to a table of a version scanned clean (`new_rows_findings`, "<column>: <n> <kind>")."""

    rows: int
    fingerprint: str
    new_rows_findings: list[str]


def scan_relation(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """Findings (`<column>: <n> <kind>`) of every scanned column of `relation` (e.g. a patch's
    inserted rows, in the connection that built them)."""
    columns = _scanned_columns(con, relation)
    return _column_counts(con, relation, columns, _rows(con, relation) if columns else None)


def find_unmasked_personal_data(
    folder: Path | str,
    skip: Callable[[Path], bool] | None = None,
    *,
    memory_limit: str | None = None,
    files: list[Path] | None = None,
    baselines: dict[str, list[Path]] | None = None,
    prescanned: dict[Path, dict[str, Prescanned]] | None = None,
    parquet_sums: dict[Path, tuple[int, int | None]] | None = None,
    threads: int | None = None,
) -> list[str]:
    """Every place under `folder` holding an unmasked mobile number or credit code, as readable
    strings `<file>[: <where>]: <n> <kind>`; empty when the folder is clean. `skip(path)` true: a
    file already scanned clean (the publisher passes the files hard-linked from the version it
    published, scanned then under the same scanner_version). `memory_limit`: DuckDB's, per connection.
    `files`: the files under `folder` to look at, when the caller has walked it already (the publisher
    leaves out the linked files but Parquet ones, so a night costs what changed); default: all.
    `baselines`: `schema.table` -> Parquet files of that table scanned clean under this scanner
    (the previous version's parts): a table of a database is regex-scanned only in its rows not in them.
    `prescanned`: database file -> `schema.table` -> what its builder knows (module doc).
    `parquet_sums`: Parquet file -> (rows, sum of row hashes) its builder says it holds: a new file
    must hold exactly that (it is read), a skipped one is taken at its word (not read; module doc).
    `threads`: DuckDB's threads per connection (default: DuckDB's, one per core)."""
    folder = Path(folder)
    config = {"memory_limit": memory_limit} if memory_limit else {}
    if threads:
        config["threads"] = threads
    files = sorted(_files_under(folder)) if files is None else files
    skipped = {p for p in files if skip is not None and skip(p)}
    todo = [p for p in files if p not in skipped]
    datasets = _datasets(p for p in files if p.suffix == ".parquet")
    sums = parquet_sums or {}
    # fingerprints of Parquet datasets (a folder's parts) already scanned clean: a table with the same
    # content is clean too (computed only for a table the builder did not describe)
    clean = _Lazy(lambda: _clean_datasets(datasets, skipped, sums, config))
    tables: dict[str, list[str]] = {}  # fingerprint of a scanned table -> its findings
    found: dict[Path, list[str]] = {}
    for path in todo:
        if path.suffix in DUCKDB_SUFFIXES:
            known = (prescanned or {}).get(path, {})
            found[path] = _scan_duckdb(path, config, clean, tables, baselines or {}, known)
    with duckdb.connect(config=config) as con:  # one in-memory connection for every folder of parts
        for parts in datasets.values():
            found.update(_scan_dataset(con, parts, skipped, sums, tables))
    found.update(_scan_texts([p for p in todo if p.suffix not in (*DUCKDB_SUFFIXES, ".parquet")], config))
    findings: list[str] = []
    for path in sorted(p for p in todo if found[p]):  # in path order, whatever order `files` came in
        rel = path.relative_to(folder).as_posix()
        findings += [f"{rel}: {f}" for f in found[path]]
    return findings


def walk_files(folder: Path) -> Iterator[tuple[str, os.DirEntry]]:
    """(path relative to `folder`, directory entry) of every file under it, a symlink to a file
    included (`entry.is_symlink()`), symlinked folders not entered (as `Path.rglob`): one directory
    read per folder, the entry's type from it. The one walk of a version (publisher._version_files too)."""
    stack = [(folder, "")]
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), f"{prefix}{entry.name}/"))
                elif entry.is_file():
                    yield prefix + entry.name, entry


def _files_under(folder: Path) -> Iterator[Path]:
    """Every regular file under `folder`, symlinks not followed."""
    return (Path(entry.path) for _, entry in walk_files(folder) if not entry.is_symlink())


def _sql(pattern: str) -> str:
    return pattern.replace("'", "''")


def _kinds(phones: int, codes: int) -> list[str]:
    out = []
    if phones:
        out.append(f"{phones} unmasked mobile number(s)")
    if codes:
        out.append(f"{codes} unmasked credit code(s)")
    return out


def _column_counts(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[str], rows: int | None = None
) -> list[str]:
    """Findings (`<column>: <n> <kind>`) of `columns` of `relation`, in column order. `rows`: at most
    how many rows it has (None: unknown), which picks the query's shape (same counts either way):
    unpivoted when small, else per distinct value of each column, or wide in one pass when
    `relation` is a query (`(SELECT ...)`, which per-column queries would each run again)."""
    if not columns:
        return []
    if rows is not None and rows * len(columns) <= NARROW_MAX_VALUES:
        counts = _narrow_counts(con, relation, columns)
    elif relation.lstrip().startswith("("):  # a query (e.g. `_new_rows`): read once, not per column
        counts = _wide_counts(con, relation, columns)
    else:
        counts = _distinct_counts(con, relation, columns)
    return [
        f"{c}: {k}" for c, (phones, codes) in zip(columns, counts, strict=True) for k in _kinds(phones, codes)
    ]


def _candidate(v: str) -> str:
    """SQL of the text of value `v` the patterns are matched against: its JSON escapes decoded only
    where there are any (decoding never lengthens a value, so one too short to hold a number stays so)."""
    return f"CASE WHEN contains({v}, '\\u') THEN {unescape_sql(v)} ELSE {v} END"


def _wide_counts(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> list[tuple[int, int]]:
    """(phones, codes) of each column: one pass, one filtered count per column and kind."""
    picks, aggs = [], []
    for i, c in enumerate(columns):
        v = f"CAST({quote(c)} AS VARCHAR)"
        text = _candidate(v)
        picks.append(
            f"CASE WHEN length({v}) >= {MIN_PII_CHARS} AND regexp_matches({text}, '{_sql(PII_IN_TEXT)}') "
            f"THEN {text} END AS c{i}"
        )
        aggs.append(f"count(*) FILTER (WHERE regexp_matches(c{i}, '{_sql(PHONE_IN_TEXT)}'))")
        aggs.append(f"count(*) FILTER (WHERE regexp_matches(c{i}, '{_sql(CC_IN_TEXT)}'))")
    candidates = f"(SELECT {', '.join(picks)} FROM {relation})"
    counts = con.execute(f"SELECT {', '.join(aggs)} FROM {candidates}").fetchone()
    return [(counts[2 * i], counts[2 * i + 1]) for i in range(len(columns))]


def _distinct_counts(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]
) -> list[tuple[int, int]]:
    """`_wide_counts` of a large stored relation (a table, a Parquet file), counted over each column's
    distinct values: per column, its values of at least MIN_PII_CHARS characters are grouped with
    their number of rows, and the patterns run once per distinct value, its count added when it
    matches. The same counts (a match depends on the value alone), for a fraction of the pattern
    work: a published column repeats its long values (keys of a roll-up, names, statuses; 8.8 M
    rows of mart_progress_detail hold ~50 k distinct summary keys at 10,000 clients), and a
    GROUP BY costs less per row than the patterns. One query per column, each reading that column only
    (docs/publication.md, "Distinct values")."""
    counts = []
    for c in columns:
        v = f"CAST({quote(c)} AS VARCHAR)"
        values = f"SELECT {v} AS v, count(*) AS n FROM {relation} WHERE length({v}) >= {MIN_PII_CHARS}"
        values += " GROUP BY ALL"
        phones, codes = con.execute(
            f"SELECT coalesce(sum(n) FILTER (WHERE regexp_matches(t, '{_sql(PHONE_IN_TEXT)}')), 0), "
            f"coalesce(sum(n) FILTER (WHERE regexp_matches(t, '{_sql(CC_IN_TEXT)}')), 0) "
            f"FROM (SELECT {_candidate('v')} AS t, n FROM ({values})) "
            f"WHERE regexp_matches(t, '{_sql(PII_IN_TEXT)}')"
        ).fetchone()
        counts.append((int(phones), int(codes)))
    return counts


def _narrow_counts(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]
) -> list[tuple[int, int]]:
    """`_wide_counts` of a small relation: its values unpivoted to (column index, value) rows, so each
    pattern and the escape decoding appear once in the query, not once per column. Planning the wide
    query's per-column patterns costs ~10 ms a column, most of a small table's scan; unpivoting costs
    ~10 % more per value (NARROW_MAX_VALUES keeps it to small relations)."""
    values = ", ".join(f"CAST({quote(c)} AS VARCHAR)" for c in columns)
    unpivoted = f"SELECT unnest(range({len(columns)})) AS i, unnest([{values}]) AS v FROM {relation}"
    candidates = f"SELECT i, {_candidate('v')} AS t FROM ({unpivoted}) WHERE length(v) >= {MIN_PII_CHARS}"
    found = con.execute(
        f"SELECT i, count(*) FILTER (WHERE regexp_matches(t, '{_sql(PHONE_IN_TEXT)}')), "
        f"count(*) FILTER (WHERE regexp_matches(t, '{_sql(CC_IN_TEXT)}')) "
        f"FROM ({candidates}) WHERE regexp_matches(t, '{_sql(PII_IN_TEXT)}') GROUP BY i"
    ).fetchall()
    counts = {i: (phones, codes) for i, phones, codes in found}
    return [counts.get(i, (0, 0)) for i in range(len(columns))]


def _scanned(dtype: str) -> bool:
    return dtype in SCANNED_TYPES or dtype.startswith("VARCHAR")


def _scanned_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [c for c, dtype in _typed_columns(con, relation) if _scanned(dtype)]


class _Lazy:
    """A value computed on first use."""

    def __init__(self, make: Callable[[], set[str]]):
        self._make, self._value = make, None

    def get(self) -> set[str]:
        if self._value is None:
            self._value = self._make()
        return self._value


def _scan_duckdb(
    path: Path,
    config: dict,
    clean: _Lazy,
    tables: dict[str, list[str]],
    baselines: dict[str, Path],
    prescanned: dict[str, Prescanned] | None = None,
) -> list[str]:
    """Every table of the database at `path`: a `prescanned` one with the builder's row count by its
    builder's findings; else unless its content is a Parquet file scanned clean, and only its rows
    not in its baseline file if it has one; records each table's findings under its fingerprint in
    `tables`."""
    findings = []
    # attached to an in-memory database, not opened as the database: a process may have the file open
    # already (e.g. a page renderer while the publisher scans in the background) under another
    # configuration, which DuckDB refuses for a second `connect` to the same file
    con = duckdb.connect(config=config)
    try:
        con.execute(f"ATTACH '{_sql(str(path))}' AS scanned (READ_ONLY)")
        con.execute("USE scanned")
        names = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "ORDER BY 1, 2"
        ).fetchall()
        for schema, table in names:
            relation = f"{quote(schema)}.{quote(table)}"
            known = (prescanned or {}).get(f"{schema}.{table}")
            if known is not None and _rows(con, relation) == known.rows:
                tables.setdefault(known.fingerprint, known.new_rows_findings)
                findings += [f"{schema}.{table}.{f}" for f in known.new_rows_findings]
                continue
            _, content_fp = fingerprint(con, relation)
            if content_fp in clean.get():
                continue
            columns = _scanned_columns(con, relation)
            rows = _rows(con, relation) if columns else None  # also bounds its new rows below
            baseline = baselines.get(f"{schema}.{table}")
            if columns and baseline is not None:
                relation = _new_rows(con, relation, columns, _parquet_relation(baseline))
            found = _column_counts(con, relation, columns, rows)
            tables.setdefault(content_fp, found)
            findings += [f"{schema}.{table}.{f}" for f in found]
    finally:
        con.close()
    return findings


def _rows(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    return con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]


def _typed_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _new_rows(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str], baseline: str) -> str:
    """`relation` less its rows whose `columns` hash to a row of `baseline` (a clean file): all of it
    when the baseline does not have those columns with the same types (or cannot be read)."""
    try:
        theirs = dict(_typed_columns(con, baseline))
    except duckdb.Error:
        return relation
    ours = dict(_typed_columns(con, relation))
    if any(theirs.get(c) != ours[c] for c in columns):
        return relation
    row = f"hash({', '.join(quote(c) for c in columns)})"
    return f"(SELECT * FROM {relation} WHERE {row} NOT IN (SELECT {row} FROM {baseline}))"


def _parquet_relation(paths: Path | list[Path], **options: str) -> str:
    files = [paths] if isinstance(paths, Path) else paths
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
    return f"read_parquet([{listed}]{''.join(f', {k} = {v}' for k, v in options.items())})"


def _datasets(paths) -> dict[Path, list[Path]]:
    """Parquet files by folder: the parts of one published table (`parquet/<schema>.<table>/`)."""
    out: dict[Path, list[Path]] = {}
    for path in sorted(paths):
        out.setdefault(path.parent, []).append(path)
    return out


def _dataset_digest(
    con: duckdb.DuckDBPyConnection, parts: list[Path], skipped: set[Path], sums: dict[Path, tuple]
) -> str | None:
    """The content fingerprint of a folder's Parquet files read as one table (fingerprint.py: the
    row hash sums add up): every new file is read and must hold what `sums` says of it (when it says
    anything); a skipped file (scanned clean before) counts as `sums` says, read only when it says
    nothing. None when the files differ in columns or from `sums`."""
    columns = None
    for path in parts:  # every file's own columns (its footer only)
        theirs = _typed_columns(con, _parquet_relation(path))
        if columns is not None and theirs != columns:
            return None
        columns = theirs
    if not columns:
        return None
    read = [p for p in parts if p not in skipped or p not in sums]
    counted = {p: sums[p] for p in parts if p not in read}
    if read:
        row = f"hash({', '.join(quote(c) for c, _ in columns)})"
        relation = _parquet_relation(read, filename="'__scanner_file'")
        result = con.execute(
            f"SELECT __scanner_file, count(*), sum({row}::HUGEINT) FROM {relation} GROUP BY ALL"
        ).fetchall()
        got = {Path(f): (n, t) for f, n, t in result}
        for path in read:
            mine = got.get(path, (0, None))
            if path in sums and tuple(sums[path]) != mine:
                return None  # not what its builder wrote down: checked on its own
            counted[path] = mine
    rows = sum(n for n, _ in counted.values())
    total = sum(t for n, t in counted.values() if n) if rows else None
    return digest(columns, rows, total)


def _clean_datasets(
    datasets: dict[Path, list[Path]], skipped: set[Path], sums: dict[Path, tuple], config: dict
) -> set[str]:
    """Fingerprints of the datasets whose every file was scanned clean before."""
    clean = set()
    with duckdb.connect(config=config) as con:
        for parts in datasets.values():
            if all(p in skipped for p in parts):
                found = _dataset_digest(con, parts, skipped, sums)
                if found is not None:
                    clean.add(found)
    return clean


def _scan_dataset(
    con: duckdb.DuckDBPyConnection,
    parts: list[Path],
    skipped: set[Path],
    sums: dict[Path, tuple],
    tables: dict[str, list[str]],
) -> dict[Path, list[str]]:
    """Findings of the new files of one folder of Parquet parts. When the folder, read as one table
    (its new files read, its skipped ones by their `sums`), holds the data of a scanned table: none
    if that table is clean (each part holds some of its rows), its findings if one file is new, else
    each new file on its own. Otherwise each new file is matched or scanned on its own."""
    new = [p for p in parts if p not in skipped]
    if not new:
        return {}
    try:
        found = _dataset_digest(con, parts, skipped, sums)
    except duckdb.Error:  # e.g. files of different tables: each on its own below
        found = None
    if found in tables and (not tables[found] or len(new) == 1):
        return {p: tables[found] for p in new}
    return {p: _scan_parquet(con, p, tables) for p in new}


def _scan_parquet(con: duckdb.DuckDBPyConnection, path: Path, tables: dict[str, list[str]]) -> list[str]:
    """A Parquet file: the findings of the scanned table holding the same data, else a scan of its own."""
    relation = _parquet_relation(path)
    _, found = fingerprint(con, relation)
    if found in tables:
        return tables[found]
    columns = _scanned_columns(con, relation)
    return _column_counts(con, relation, columns, _rows(con, relation) if columns else None)


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
_SVG_NAMES = ("points", "d", "viewBox", "transform")  # no two end in the same letter


def _blank_svg_geometry(text: str) -> str:
    """`_SVG_GEOMETRY.sub(r'\\1=""', text)`, found from the `="` and `='` every match holds. The
    expression tries every position of the text (~21 ns a character: 1.65 CPU s for the 77 MB of a
    100,000-client night's report pages); a page has ~100 quoted attributes, looked up with
    `str.find`. Same matches: left to right, each an attribute name at a word boundary (`\\b`: the
    character before it is not a word character, str patterns' Unicode ones) and a closed quote, the
    scan going on after the closing quote, or after the `=` when it is not one
    (tests/test_publish_tail.py compares both on generated texts)."""
    out, done, start = [], 0, 0
    found = {q: text.find(f"={q}") for q in "\"'"}
    while True:
        for q in "\"'":  # the next `=` + quote of each kind at or after `start`
            if -1 < found[q] < start:
                found[q] = text.find(f"={q}", start)
        live = [(at, q) for q, at in found.items() if at >= 0]
        if not live:
            break
        at, q = min(live)
        name = next((n for n in _SVG_NAMES if text.endswith(n, 0, at)), None)
        begin = at - len(name) if name else -1
        close = text.find(q, at + 2) if name and not (begin and _is_word(text[begin - 1])) else -1
        if close < 0:
            start = at + 1
            continue
        out += [text[done:begin], name, '=""']
        done = start = close + 1
    return "".join(out) + text[done:] if out else text


def _is_word(ch: str) -> bool:
    """A word character of Python's str regular expressions (`\\w`)."""
    return ch.isalnum() or ch == "_"


def _read_file(path: Path) -> bytes:
    return path.read_bytes()


def _text_of(data: bytes) -> str | None:
    """The bytes of a file as the scanner reads them (SVG geometry blanked), or None for a known
    binary format."""
    text = _decode(data)
    if text is None:
        return None
    if '="' in text or "='" in text:  # every SVG geometry attribute has one; most data files none
        text = _blank_svg_geometry(text)
    return text


def _read_text(path: Path) -> str | None:
    """The file as the scanner reads it (SVG geometry blanked), or None for a known binary format."""
    return _text_of(_read_file(path))


def _as_is(data: bytes) -> bool:
    """True when the scanner reads these bytes as UTF-8 text exactly as they are, if they are valid
    UTF-8 (no binary magic, no byte-order mark, no NUL, no SVG geometry to blank, no JSON escape to
    decode): most page data files. DuckDB then decodes and matches them itself, with no Python
    string built (its `decode` refuses invalid UTF-8 as Python does: such a batch goes Python's way)."""
    return not (
        data.startswith(BINARY_MAGIC)
        or data.startswith((b"\xff\xfe", b"\xfe\xff"))
        or b"\x00" in data
        or b'="' in data
        or b"='" in data
        or b"\\u" in data
        or b"\\U" in data
    )


def _line_findings(text: str) -> list[str]:
    findings = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        findings += [f"line {lineno}: {k}" for k in _kinds(*count_personal_data(line))]
    return findings


def _scan_text(path: Path) -> list[str]:
    """One text file's findings, per line (`line <n>: <count> <kind>`)."""
    text = _read_text(path)
    return [] if text is None else _line_findings(text)


def _scan_texts(paths: list[Path], config: dict) -> dict[Path, list[str]]:
    """Findings of many text files, the same as `_scan_text` of each, in one pass per batch.

    The per-line Python patterns cost ~0.14 µs a byte (~6 CPU min for the ~170,000 page data files of
    a 100,000-client version, 2.5 GB). So each file's whole text (JSON escapes decoded, as per line) goes
    through DuckDB's RE2 with the same combined pattern the masking macros use, a batch of files per
    query, and only a file with a match is counted line by line in Python for the findings' wording.
    The patterns' guards match a line break (no digit, letter or separator is one) where they match
    the end of a line, and no other atom matches one, so the whole text matches exactly when one of
    its lines does (tests/test_publish_tail.py checks both engines agree on generated texts).
    A file read as it is (`_as_is`: most page data files) goes to DuckDB as bytes, decoded there;
    only the others are decoded in Python first."""
    found: dict[Path, list[str]] = {}
    texts: list[tuple[Path, str]] = []
    raw: list[tuple[Path, bytes]] = []
    sizes = [0, 0]
    con = duckdb.connect(config=config)
    try:
        for path in paths:
            data = _read_file(path)
            found[path] = []
            if len(data) < MIN_PII_CHARS:  # never more characters than bytes
                continue
            if _as_is(data):
                raw.append((path, data))
                sizes[0] += len(data)
            else:
                text = _text_of(data)
                if text is None or len(text) < MIN_PII_CHARS:
                    continue
                texts.append((path, text))
                sizes[1] += len(text)
            if sizes[0] >= TEXT_BATCH_CHARS:
                found.update(_raw_findings(con, raw))
                raw, sizes[0] = [], 0
            if sizes[1] >= TEXT_BATCH_CHARS:
                found.update(_batch_findings(con, texts))
                texts, sizes[1] = [], 0
        found.update(_raw_findings(con, raw))
        found.update(_batch_findings(con, texts))
    finally:
        con.close()
    return found


def _raw_findings(con: duckdb.DuckDBPyConnection, batch: list[tuple[Path, bytes]]) -> dict[Path, list[str]]:
    """`_batch_findings` of files read as they are, matched by DuckDB on their bytes; a batch holding
    bytes that are not UTF-8 is decoded in Python instead (gb18030 then, as `_decode`)."""
    if not batch:
        return {}
    try:
        hits = con.execute(
            "SELECT i FROM (SELECT unnest(range(len($blobs))) AS i, unnest($blobs) AS b) "
            f"WHERE regexp_matches(decode(b), '{_sql(PII_IN_TEXT)}')",
            {"blobs": [data for _, data in batch]},
        ).fetchall()
    except duckdb.ConversionException:
        texts = [(path, _text_of(data)) for path, data in batch]
        return _batch_findings(con, [(path, text) for path, text in texts if text is not None])
    return {batch[i][0]: _line_findings(_text_of(batch[i][1])) for (i,) in hits}


def _batch_findings(con: duckdb.DuckDBPyConnection, batch: list[tuple[Path, str]]) -> dict[Path, list[str]]:
    if not batch:
        return {}
    texts = [unescape(t) if "\\u" in t or "\\U" in t else t for _, t in batch]
    hits = con.execute(
        "SELECT i FROM (SELECT unnest(range(len($texts))) AS i, unnest($texts) AS t) "
        f"WHERE regexp_matches(t, '{_sql(PII_IN_TEXT)}')",
        {"texts": texts},
    ).fetchall()
    return {batch[i][0]: _line_findings(batch[i][1]) for (i,) in hits}
