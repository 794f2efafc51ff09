"""Which landing-zone files are complete: a `.done` marker, or unchanged over the settle window.

Marker mode: when an entity folder holds any `*.done` file, a file is complete only when
`<file name>.done` exists next to it. Otherwise a file is complete when its size and modification
time have not changed for `settle_seconds`: files older than that are taken at once; for younger
ones the loader waits (at most one settle window per entity) and takes those that did not change
meanwhile. Incomplete files wait for the next night; files that vanish are file rejects.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from .sources import SourceFile

WAIT_MARKER = "等待完成标记 waiting for its .done marker (folder uses markers); left for the next night"
WAIT_WRITING = (
    "仍在写入 still being written (size or mtime changed within the settle window); left for the next night"
)
VANISHED = "文件在加载过程中消失 file disappeared during the load (deleted or moved)"


@dataclass
class Readiness:
    ready: list[SourceFile] = field(default_factory=list)
    waiting: list[tuple[SourceFile, str]] = field(default_factory=list)
    vanished: list[tuple[SourceFile, str]] = field(default_factory=list)


def _stat(source: SourceFile) -> tuple[int, int] | None:
    try:
        st = os.stat(source.path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def split_ready(sources: list[SourceFile], settle_seconds: float, sleep=time.sleep) -> Readiness:
    out = Readiness()
    if not sources:
        return out
    folder = sources[0].path.parent
    if any(p.name.endswith(".done") for p in folder.iterdir()):
        for s in sources:
            done = s.path.with_name(s.path.name + ".done").exists()
            (out.ready.append(s) if done else out.waiting.append((s, WAIT_MARKER)))
        return out
    first = {s.source_file: _stat(s) for s in sources}
    now_ns = time.time_ns()
    ages = {k: (now_ns - v[1]) / 1e9 for k, v in first.items() if v is not None}
    wait = max([settle_seconds - a for a in ages.values()] + [0.0])
    if wait > 0:
        sleep(min(wait, settle_seconds))
    for s in sources:
        before, after = first[s.source_file], _stat(s) if wait > 0 else first[s.source_file]
        if before is None or after is None:
            out.vanished.append((s, VANISHED))
        elif before != after:
            out.waiting.append((s, WAIT_WRITING))
        else:
            out.ready.append(s)
    return out
