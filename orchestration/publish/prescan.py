"""Text files scanned for personal data by the processes that write them, while the version is built.

The publisher scans every file written after the snapshot (the pages, the render manifest, the data
docs, the manifest) before it seals the version (publisher._refuse_personal_data). At 100,000 clients
a one-day night writes ~6,800 such files (~250 MB), and scanning them after the render took ~8 s of
wall with one core idle. A `TextPrescan` lets each page-render process hand over the files it has
finished (`submit`): a background thread of that process scans them (`scanner._scan_texts`, the
verify step's own scan: the same findings, the same wording) while the render goes on, and the verify
step reads only the files no prescan vouches for.

A file is vouched for only while its stat is the one taken after its bytes were read: (device, inode,
size, mtime_ns, ctime_ns). A write after the read changes the ctime (or the inode, when the file is
replaced), so a file changed after its scan is scanned again. File timestamps are coarse (a clock
tick, <= 10 ms), so a file is read 2 x SETTLE_NS after it was handed over, and one whose ctime is
not older than the read by SETTLE_NS is not recorded at all (a write in the same tick could not be
told from its stat): it is left to the verify step.

Only text files are prescanned (not DuckDB or Parquet files: their scan is the snapshot's). A failure
of the prescan (a file gone, a DuckDB error) records nothing for that batch: the verify step scans
those files as before. The publisher makes its prescan `active()` while the render runs; a render
process started by the renderer records into a prescan of its own and sends its records back
(`records`, `merge`).
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from orchestration.publish import scanner

log = logging.getLogger(__name__)

SETTLE_NS = 50_000_000  # 50 ms: several ticks of the coarse clock file timestamps come from
GATHER_NS = 1_000_000_000  # files handed over within 1 s are scanned together

Stat = tuple[int, int, int, int, int]  # device, inode, size, mtime_ns, ctime_ns
Records = dict[tuple[int, int], tuple[Stat, list[str]]]  # (device, inode) -> stat at scan, findings

_ACTIVE: ContextVar[TextPrescan | None] = ContextVar("opscenter_text_prescan", default=None)


def active() -> TextPrescan | None:
    """The prescan of the publication running in this thread (set by `collecting`), if any."""
    return _ACTIVE.get()


@contextmanager
def collecting(prescan: TextPrescan | None) -> Iterator[TextPrescan | None]:
    """Make `prescan` the active one (None: none) for the block."""
    token = _ACTIVE.set(prescan)
    try:
        yield prescan
    finally:
        _ACTIVE.reset(token)


def _key(st: os.stat_result) -> Stat:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def is_text(path: str | Path) -> bool:
    """A file the scanner reads as text (not a DuckDB database, not a Parquet file)."""
    suffix = os.path.splitext(str(path))[1]
    return suffix not in (*scanner.DUCKDB_SUFFIXES, ".parquet")


class TextPrescan:
    """Findings of text files scanned in a background thread as they are handed over (module doc)."""

    def __init__(self, memory_limit: str | None = None):
        # one DuckDB thread: the scan's query is one pipeline, and the render has the other core
        self._config = {"threads": 1, **({"memory_limit": memory_limit} if memory_limit else {})}
        self._records: Records = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._cancelled = False

    def submit(self, paths: Iterable[str | Path]) -> None:
        """Scan these files in the background, 2 x SETTLE_NS from now at the earliest. The caller is
        done writing them."""
        todo = [str(p) for p in paths if is_text(p)]
        if not todo:
            return
        with self._lock:
            if self._stopped:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="publish-prescan", daemon=True)
                self._thread.start()
            self._queue.put((time.time_ns(), todo))

    def _run(self) -> None:
        """Scan what is handed over in batches: the files handed over within GATHER_NS of a batch's
        first go in one scan (a scan has a fixed cost of ~15 ms: a render hands over files a page,
        or a template page's batch of keys, at a time), read once the last of them is 2 x SETTLE_NS
        old. `finish` ends the gathering at once."""
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            pending = [first]
            deadline = first[0] + GATHER_NS
            while (timeout := (deadline - time.time_ns()) / 1e9) > 0:
                try:
                    item = self._queue.get(timeout=timeout)
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                pending.append(item)
            while not stopping:  # and whatever is waiting already (this thread may lag behind)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    pending.append(item)
            wait = pending[-1][0] + 2 * SETTLE_NS - time.time_ns()  # recorded if older than SETTLE_NS
            if wait > 0:
                time.sleep(wait / 1e9)
            if self._cancelled:
                continue
            paths = [p for _, batch in pending for p in batch]
            try:
                self.scan(paths)
            except Exception as exc:  # nothing recorded: the verify step scans these files
                log.warning("prescan of %d files failed (%s): left to the verify step", len(paths), exc)

    def scan(self, paths: list[str]) -> None:
        """Scan `paths` now and record each one's findings under its stat (module doc)."""
        started = time.time_ns()
        found = scanner._scan_texts([Path(p) for p in paths], self._config)
        records: Records = {}
        for p in paths:
            try:
                st = os.stat(p, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_ctime_ns >= started - SETTLE_NS:
                continue  # a symlink (the scan followed it), or too recent to be told by its stat
            records[(st.st_dev, st.st_ino)] = (_key(st), found[Path(p)])
        with self._lock:
            self._records.update(records)

    def finish(self, cancel: bool = False) -> None:
        """Wait until every file handed over is scanned (`cancel`: until the batch being scanned is
        done, the others dropped); nothing is taken after."""
        with self._lock:
            self._stopped = True
            self._cancelled = self._cancelled or cancel
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()

    def records(self) -> Records:
        """What was scanned (after `finish`): to be merged into another process's prescan."""
        with self._lock:
            return dict(self._records)

    def merge(self, records: Records) -> None:
        with self._lock:
            self._records.update(records)

    def findings(self, path: str | Path) -> list[str] | None:
        """The findings of the file at `path` as scanned, or None when it was not scanned or its stat
        changed since (it must be scanned again)."""
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return None
        with self._lock:
            found = self._records.get((st.st_dev, st.st_ino))
        if found is None or found[0] != _key(st):
            return None
        return found[1]
