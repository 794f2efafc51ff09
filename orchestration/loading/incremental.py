"""Skip files already loaded unchanged: raw.load_file_state remembers what each file held.

A file is skipped when its sha256, the loader's rules version and the outcome of the plausible-date
check are all unchanged since the load that read it. The winners of the previous load are then
merged with the rows of the new files; since "greatest updated_at, then later file name, then later
line" is a total order, that gives exactly what a full reload gives. When any previously loaded file
changed, disappeared or is waiting, the entity is re-read in full (its rows cannot be taken back out
of the previous winners).
"""

from __future__ import annotations

from .options import RULES_VERSION, DateBounds

STATE_COLUMNS = (
    "source_file, size_bytes, checksum, read_load_id, rules_version, date_lower, date_upper, "
    "date_min_seen, date_max_in_range, date_min_above, rows_read, rows_accepted, rows_rejected, "
    "rows_superseded, file_format, encoding, message"
)


def previous_state(conn, entity: str) -> dict[str, dict]:
    """source_file → state row of the entity's current raw table (empty for a first load)."""
    cur = conn.execute(f"SELECT {STATE_COLUMNS} FROM raw.load_file_state WHERE entity = ?", [entity])
    names = [d[0] for d in cur.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def unchanged(prev: dict | None, checksum: str, bounds: DateBounds) -> bool:
    """Would reading the file again give the same accepted rows and rejects?"""
    if prev is None or prev["checksum"] != checksum or prev["rules_version"] != RULES_VERSION:
        return False
    return _same_lower(prev, bounds.lower) and _same_upper(prev, bounds.upper)


def _same_lower(prev: dict, lower) -> bool:
    """The lower bound is a setting: when it changes, the file must hold no date near either value."""
    low = prev["date_min_seen"]
    return prev["date_lower"] == lower or low is None or low >= max(prev["date_lower"], lower)


def _same_upper(prev: dict, upper) -> bool:
    """The upper bound moves with the as-of date: no date of the file may lie between old and new."""
    old = prev["date_upper"]
    if upper >= old:  # dates in (old, upper] were rejected and would now pass
        return prev["date_min_above"] is None or prev["date_min_above"] > upper
    return prev["date_max_in_range"] is None or prev["date_max_in_range"] <= upper  # (upper, old]
