"""A render shared by several processes (`render_site(workers=n)`, issue 15: both cores).

Rendering is mostly single-threaded Python (each key's page body, JSON, files) between DuckDB
queries, so one process keeps about one core busy. With `workers=n`, the process that called
render_site and n - 1 processes started here render the pages between them, a page at a time: each
process takes the next page of one list (template pages by their number of keys, largest first,
then the other pages in order) when it is done with its last, so the big template pages start first
and the small pages fill in. Each process builds the same render state (`site._setup`: the same page
files, navigation, routes, previous hashes and renderer version), opens the snapshot read-only with
its share of the memory limit and its own spill folder, and renders a page exactly as a serial
render does (`site._render_unit`): a page's files, hashes and links do not depend on which process
rendered it or on what else it rendered. The caller puts the pages' results back in page order and
writes the manifest and checks the links as before, so the files and `render-manifest.json` are the
same bytes as a serial render's.

A worker is `python -m orchestration.render.render_worker` talking pickles over its stdin and stdout
(not multiprocessing: that would re-import the caller's main module, a Dagster process, in each
worker, or fork a process whose other threads hold DuckDB's locks):

- to the worker: the `site._Job`, then per page `(page index, the template page's values or None)`,
  then `None` (done);
- from the worker: per page `("done", rendered items with their links, the hashes it recorded)`, or
  `("error", exception)` once, after which it stops.

A page's error in any process fails the render (the others stop after their page). A worker that
dies without a word fails it too (RenderError).
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import resource
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

from .page_source import RenderError

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent.parent  # the folder holding the `orchestration` package


class _Shared:
    """The pages left to render, handed out one at a time to whichever process asks, and the first
    error of any process (after which no page is handed out)."""

    def __init__(self, order: list[int]):
        self.todo = deque(order)
        self.lock = threading.Lock()
        self.error: BaseException | None = None

    def next(self) -> int | None:
        with self.lock:
            return self.todo.popleft() if self.todo and self.error is None else None

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = exc


def render_parallel(job, site, con, pages: list, values: dict[int, list[str]], workers: int) -> list[list]:
    """Each page's rendered items with their links, in page order, the pages shared out between this
    process (its `site` and `con`) and `workers - 1` worker processes; `site.hashes` gets every
    process's hashes."""
    from . import site as site_mod

    order = sorted(range(len(pages)), key=lambda i: (-len(values.get(i, ())), i))
    shared = _Shared(order)
    done: dict[int, list] = {}
    children = [_Worker(job, n, site_mod.share_memory(job.memory_limit, workers)) for n in range(1, workers)]
    threads = [
        threading.Thread(target=w.serve, args=(shared, values, done, site), daemon=True) for w in children
    ]
    try:
        for t in threads:
            t.start()
        while (i := shared.next()) is not None:
            done[i] = site_mod._render_unit(site, con, pages[i], values.get(i))
        for t in threads:
            t.join()
    except BaseException as exc:  # the render fails: the workers' pages are not wanted
        shared.fail(exc)
        for w in children:
            w.kill()
        raise
    finally:
        for w in children:
            w.close()
        for t in threads:
            t.join()
    if shared.error is not None:
        raise shared.error
    return [done[i] for i in range(len(pages))]


class _Worker:
    """One worker process, served by a thread of the caller (`serve`)."""

    def __init__(self, job, number: int, memory_limit: str | None):
        spill = job.spill / str(number)
        spill.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestration.render.render_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=str(ROOT),
        )
        self._send((job, memory_limit, spill))

    def _send(self, obj) -> None:
        pickle.dump(obj, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()

    def serve(self, shared: _Shared, values: dict[int, list[str]], done: dict[int, list], site) -> None:
        """Hand this worker pages until none is left, collect what it rendered."""
        try:
            while (i := shared.next()) is not None:
                self._send((i, values.get(i)))
                try:
                    reply = pickle.load(self.proc.stdout)
                except EOFError:
                    raise RenderError(
                        f"page render worker {self.proc.pid} ended without its page (exit code "
                        f"{self.proc.wait()}); see its error output above"
                    ) from None
                if reply[0] == "error":
                    raise reply[1]
                _, items, hashes = reply
                with shared.lock:
                    done[i] = items
                    site.hashes.update(hashes)
        except BaseException as exc:
            shared.fail(exc)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        """Tell the worker to stop and wait for it (killed if it is still busy on a failed render);
        log what it did (pages, CPU seconds, peak RSS)."""
        try:
            if self.proc.poll() is None:
                self._send(None)
                self.proc.stdin.close()
                stats = pickle.load(self.proc.stdout)
                log.info("page render worker %s: %s", self.proc.pid, stats)
        except (BrokenPipeError, OSError, ValueError, EOFError, pickle.UnpicklingError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def main() -> None:
    """A worker: the render state from the job, then pages until told to stop."""
    from . import site as site_mod

    inp = sys.stdin.buffer
    # nothing but the replies goes to the pipe: whatever else writes to file descriptor 1 (DuckDB's
    # progress bar on a long query, a print) goes to stderr
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    job, memory_limit, spill = pickle.load(inp)
    pages, site = site_mod._setup(job)
    con = site_mod._open(job, memory_limit, spill)
    # the job's state (the previous version's page bookkeeping: ~170,000 entries at 100,000 clients)
    # lives as long as this process: out of the cyclic collector's full passes (orchestration.warmup)
    gc.freeze()
    rendered = 0
    try:
        while (task := pickle.load(inp)) is not None:
            i, values = task
            rendered += 1
            site.hashes = {}
            try:
                reply = ("done", site_mod._render_unit(site, con, pages[i], values), site.hashes)
            except Exception as exc:  # the caller raises it, as itself when it survives pickling
                try:
                    pickle.loads(pickle.dumps(exc))
                except Exception:
                    exc = RenderError(f"{type(exc).__name__}: {exc}")
                pickle.dump(("error", exc), out, protocol=pickle.HIGHEST_PROTOCOL)
                out.flush()
                return
            pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    finally:
        con.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = {
        "pages": rendered,
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": _peak_mb(),
    }
    pickle.dump(stats, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def _peak_mb() -> int:
    """This process's peak RSS (VmHWM; -1 where /proc has none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return -1


if __name__ == "__main__":
    main()
