"""What a load reports: per-file accounting and the entity's totals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

COUNTED = ("loaded", "skipped_unchanged")  # statuses whose rows make up raw.<entity>


@dataclass
class FileStats:
    source_file: str
    file_order: int
    file_format: str
    encoding: str | None
    status: str = "loaded"  # 'loaded' | 'skipped_unchanged' | 'waiting' | 'rejected_file'
    message: str = ""
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_superseded: int = 0
    empty_rows_skipped: int = 0  # records whose every cell is empty: not rows, not counted
    size_bytes: int | None = None
    checksum: str | None = None
    read_load_id: str | None = None  # the load that read the file (an earlier one when skipped)
    date_min_seen: dt.date | None = None  # earliest parsed date of the file (any date-like column)
    date_max_in_range: dt.date | None = None  # latest date not after the upper plausible bound
    date_min_above: dt.date | None = None  # earliest date after it (rejected as implausible)
    file_stat: str | None = None  # its stat before it was read, if settled (incremental.stat_file)


@dataclass
class LoadResult:
    entity: str
    load_id: str
    as_of_date: dt.date
    files: list[FileStats] = field(default_factory=list)
    rows_unique: int = 0
    max_updated_at: dt.datetime | None = None
    rows_future_updated_at: int = 0
    full_reload: bool = True

    @property
    def nothing_new(self) -> bool:
        """Every file skipped as unchanged: raw.<entity> stays exactly as it is."""
        return not self.full_reload and not self.count("loaded")

    @property
    def merge(self) -> bool:
        """New files beside files skipped as unchanged: only the keys of the new rows are ranked again
        and raw.<entity> is changed in place (those keys' rows replaced by their winners)."""
        return not self.full_reload and bool(self.count("loaded"))

    @property
    def winners(self) -> str:
        """SQL relation of the entity's rows after this load, once the table is written (in the
        write's transaction)."""
        return f"raw.{self.entity}"

    def _sum(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files if f.status in COUNTED)

    @property
    def rows_read(self) -> int:
        return self._sum("rows_read")

    @property
    def rows_accepted(self) -> int:
        return self._sum("rows_accepted")

    @property
    def rows_rejected(self) -> int:
        return self._sum("rows_rejected")

    @property
    def rows_superseded(self) -> int:
        return self._sum("rows_superseded")

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)
