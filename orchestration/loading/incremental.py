"""Skip files already loaded unchanged: raw.load_file_state remembers what each file held.

A file is skipped when its sha256, the loader's rules version and the outcome of the plausible-date
check are all unchanged since the load that read it. The winners of the previous load are then
merged with the rows of the new files; since "greatest updated_at, then later file name, then later
line" is a total order, that gives exactly what a full reload gives. When any previously loaded file
changed, disappeared or is waiting, the entity is re-read in full (its rows cannot be taken back out
of the previous winners).

Finding the checksum unchanged means reading the whole file, every night, for every file a landing
zone keeps. So, as git's index and rsync do, each file's stat (`file_stat`: size, mtime and ctime in
ns, device and inode) is recorded beside its checksum, taken *before* the file was read; a file whose
stat is exactly the recorded one is taken to hold what was read then, and is skipped without being
opened. What that trusts: any write to a file sets its mtime and ctime to the current time (ctime
cannot be set back: `touch -d`/`os.utime` set only mtime and atime, and change ctime; a rename onto
it, `rsync`, `cp` make another inode), and those clocks advance within `RACY_MARGIN_NS` of this
host's. The racy case: a file written in the same timestamp tick as the stat (a coarse file system,
or a writer still at work) could change without a new stat, so a stat is recorded only when the
file's mtime and ctime are both older than `RACY_MARGIN_NS` at the moment it was taken; otherwise
(`file_stat` NULL) the file is hashed at the next load as before, and its stat recorded then.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from .options import RULES_VERSION, DateBounds

STATE_COLUMNS = (
    "source_file, size_bytes, checksum, read_load_id, rules_version, date_lower, date_upper, "
    "date_min_seen, date_max_in_range, date_min_above, rows_read, rows_accepted, rows_rejected, "
    "rows_superseded, file_format, encoding, message, file_stat"
)
# A stat is trusted only when the file's mtime and ctime are older than this when it is taken: the
# coarsest common timestamp granularity (FAT: 2 s; ext3, HFS+, some NFS servers: 1 s) with room.
RACY_MARGIN_NS = 2_000_000_000
_clock_ns = time.time_ns  # the moment a stat is taken (tests move it forward instead of sleeping)


@dataclass(frozen=True)
class FileStat:
    key: str  # "size mtime_ns ctime_ns dev ino": what the next load compares
    size: int
    settled: bool  # mtime and ctime older than RACY_MARGIN_NS when taken: the key may be recorded


def stat_file(path) -> FileStat | None:
    """The file's stat, taken before it is read (None when it cannot be stat'ed: the read reports why)."""
    now = _clock_ns()
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_dev} {st.st_ino}"
    return FileStat(key, st.st_size, max(st.st_mtime_ns, st.st_ctime_ns) < now - RACY_MARGIN_NS)


def unchanged_by_stat(prev: dict | None, seen: FileStat | None, bounds: DateBounds) -> bool:
    """Is the file the one recorded (same stat, recorded when settled) and its load still valid?"""
    if prev is None or seen is None or prev["file_stat"] is None or prev["file_stat"] != seen.key:
        return False
    return unchanged(prev, prev["checksum"], bounds)


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
