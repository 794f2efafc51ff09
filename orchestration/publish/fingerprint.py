"""A table's content fingerprint, computed in SQL in one pass: what proves two copies hold the same data.

`fingerprint(con, relation)` is (rows, digest): the digest is a SHA-256 over the column names and types,
the row count and the sum (as a 128-bit integer, so nothing overflows or cancels out) of DuckDB's 64-bit
`hash()` of every row. It does not depend on row order. Two relations with the same digest hold the same
multiset of rows unless 64-bit row hashes collide in sum (about 2^-64 for data that differs by accident).
Hashing costs about a fiftieth of a regular-expression scan of the same columns (docs/publication.md).
Used by the snapshot (an unchanged source table reuses the previous version's Parquet) and by the
scanner (a Parquet file with its snapshot table's fingerprint is the same data, scanned once).
"""

from __future__ import annotations

import hashlib
import json

import duckdb

from orchestration.publish.masking import quote


def fingerprint(con: duckdb.DuckDBPyConnection, relation: str, salt: str = "") -> tuple[int, str]:
    """(row count, content digest) of `relation` (a table name or `read_parquet(...)`); `salt` is
    hashed in too (e.g. the code that turns a source table into a published one)."""
    columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    row = ", ".join(quote(c) for c, _ in columns)
    rows, total = con.execute(f"SELECT count(*), sum(hash({row})::HUGEINT) FROM {relation}").fetchone()
    return rows, digest(columns, rows, total, salt)


def digest(columns: list[tuple[str, str]], rows: int, total: int | None, salt: str = "") -> str:
    """The digest of a relation with `columns` [(name, type)], `rows` rows and `total` = the sum of
    its row hashes (None when empty): what `fingerprint` returns, for a sum computed elsewhere
    (the snapshot's patch adds up the masked source's row hashes while it diffs them)."""
    text = json.dumps([salt, [list(c) for c in columns], rows, str(total)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
