"""Benchmark whole nights at given firm sizes; results go to docs/benchmarks.md (and .json).

    python -m orchestration.benchmark --clients 800 10000 [--months 36] [--steps ...]

Per firm size, in a throw-away work folder (kept with --keep):

- standalone steps, each in its own process: `generate` the firm (as of AS_OF), `load` every entity
  of the generated files, `split` the loaded rows into the landing zones of the two nights below,
  `dbt` (one full `dbt build`), `floor` (the SQL that dbt build ran — target/run/** — executed
  directly in DuckDB in the same order, so dbt-work ÷ bare SQL is the orchestration overhead),
  `ml` (the renewal model alone, outside dbt; the dbt step builds it too), `quality` (the GX suites
  of the gate) and `publish` (publication with every page, of the dbt step's warehouse);
- whole nights through Dagster (`orchestration.cli nightly`: load → dbt, the renewal model's Python
  models inside → quality gate → publication with pages), each in its own process: `night_full`
  (fresh warehouse, as of AS_OF),
  `night_yesterday` (fresh warehouse, the landing zone as it stood the day before, as of AS_OF - 1)
  then `night_incremental` (that warehouse + one new day's drop, as of AS_OF); `compare` hashes
  every core and marts table of the incremental warehouse against the full night's; then, on that
  warehouse, `night_quiet` (the next night with no new file: only the as-of date moves, to AS_OF + 1)
  and `night_rerun` (the same night again: nothing new, the same date). The two split the one-day
  night's time into what any night pays, what the date's move adds and what the drop's rows add.

The one-day drop: rows whose updated_at falls on AS_OF (what a daily incremental export carries).
Yesterday's landing zone holds every other row, written in the contract's canonical CSV form.

Speed and memory targets are judged here, on this script's written results, not in timed tests.
Every step runs in its own process and reports its own peak RSS as VmHWM from /proc/self/status:
getrusage's ru_maxrss is not used because Linux carries a parent's high-water mark into a forked
child across exec, so a child of a big parent would report the parent's peak. A night also
reports the largest VmHWM among its child processes (dbt runs as a subprocess of Dagster), polled.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from orchestration import settings

AS_OF = dt.date(2026, 11, 20)
YESTERDAY = AS_OF - dt.timedelta(days=1)
TOMORROW = AS_OF + dt.timedelta(days=1)  # night_quiet's and night_rerun's as-of date: no export for it
STEPS = ("generate", "load", "split", "dbt", "floor", "dbt_next_day", "ml", "quality", "publish")
NIGHTS = ("night_full", "night_yesterday", "night_incremental", "compare", "night_quiet", "night_rerun")
ALL = STEPS + NIGHTS
RESULTS_JSON = settings.REPO_ROOT / "docs" / "benchmarks.json"
WAREHOUSE = "warehouse.duckdb"  # every warehouse of the benchmark has this file name (DuckDB catalog name)

TARGETS = {"night_s": 15 * 60, "peak_mb": 4096, "incremental_share": 0.20, "overhead": 1.5}


# ---------------------------------------------------------------------------------------------- helpers


def _peak_rss_mb(pid: int | str = "self") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return -1


class Peaks:
    """Peak RSS of named spans of this process, nested spans allowed (a night's steps, publication's
    stages inside its step): at each span's start the kernel's high-water mark (VmHWM) is read, folded
    into every open span and the whole process's peak, then reset by writing 5 to /proc/self/clear_refs;
    at its end VmHWM is folded in again. So each span's peak is its own, not carried over from an
    earlier, bigger one, and `process_peak_mb` stays the whole process's. Without a resettable
    high-water mark (an old kernel) `exact` is False and a span reports the peak up to its end."""

    def __init__(self):
        self.peaks: dict[str, int] = {}
        self.exact, self._process_mb, self._open = True, 0, []

    def _fold(self) -> None:
        now = _peak_rss_mb()
        self._process_mb = max(self._process_mb, now)
        for span in self._open:
            span[1] = max(span[1], now)

    def _reset(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.exact = False

    @contextlib.contextmanager
    def span(self, label: str) -> Iterator[None]:
        self._fold()
        self._reset()
        entry = [label, 0]
        self._open.append(entry)
        try:
            yield
        finally:
            self._fold()
            self._open.remove(entry)
            self.peaks[label] = max(self.peaks.get(label, 0), entry[1])

    def process_peak_mb(self) -> int:
        self._fold()
        return self._process_mb


PEAKS = Peaks()  # this process's: a step's own peak_rss_mb is PEAKS.process_peak_mb(), not VmHWM at its end


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children: unlike wall time, it
    hardly grows when other developers load the shared machine, so ratios of it are the steadier ones."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 1)


def _loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


class ChildPeak:
    """Polls the VmHWM of every descendant process of `root` (default: this process; dbt runs as a child
    of Dagster) until stopped: `peak_mb` is the largest among the descendants, `root_peak_mb` the root's
    own (polled, so also known when the root is killed or fails before it can report it); `by_pid`
    holds each descendant's peak and the epoch seconds it was first and last seen alive, so a peak can
    be put down to the night's step it ran in (see `child_peak_between`)."""

    def __init__(self, interval: float = 0.2, root: int | None = None):
        self.interval, self.peak_mb, self.root_peak_mb, self._stop = interval, 0, 0, threading.Event()
        self.root = root or os.getpid()
        self.by_pid: dict[int, list[float]] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _descendants(self) -> list[tuple[int, int]]:
        """(pid, parent pid) of every descendant of the root (polled 5 times a second inside the
        measured night: a tree walk, not a read of every process's stat on the machine)."""
        return descendants(self.root)

    @staticmethod
    def _forked_copy(pid: int, parent: int) -> bool:
        """A child between fork and exec (or gone): its memory figures are its parent's, copied at the
        fork (e.g. the night process's ~250+ MB for the instant before dbt starts), not its own."""
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes() == Path(f"/proc/{parent}/cmdline").read_bytes()
        except OSError:
            return True

    def _poll(self) -> None:
        self.root_peak_mb = max(self.root_peak_mb, _peak_rss_mb(self.root))
        now = time.time()
        for pid, parent in self._descendants():
            if self._forked_copy(pid, parent):
                continue
            mb = _peak_rss_mb(pid)
            self.peak_mb = max(self.peak_mb, mb)
            seen = self.by_pid.setdefault(pid, [mb, now, now])
            seen[0], seen[2] = max(seen[0], mb), now

    def child_peak_between(self, start: float, end: float, skip: tuple[int, ...] = ()) -> int:
        """The largest peak of a descendant (but `skip`) seen alive between two epoch instants."""
        return max(
            (mb for pid, (mb, first, last) in self.by_pid.items()
             if pid not in skip and first <= end and last >= start),
            default=0,
        )  # fmt: skip

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self.interval)

    def __enter__(self) -> ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def watch_process(
    cmd: list[str], log: Path, env: dict | None = None, cwd: Path | None = None, stop_at: float | None = None
) -> dict:
    """Run `cmd` (output to `log`) while polling its memory: exit code, wall seconds, the process's own
    polled VmHWM and the largest VmHWM among its descendants. Known also when the step fails, is
    killed (e.g. by the OOM killer) or stopped, where the step cannot write its own result.

    `stop_at` (a time.time() instant): the step and everything it started (its own process group) is
    terminated then, e.g. to hand the shared machine back at a given hour; `stopped` is then True."""
    t, stopped = time.perf_counter(), False
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_default_sigterm,
        )
        with ChildPeak(root=proc.pid) as watch:
            while (returncode := _wait(proc, stop_at)) is None:
                stopped = True
                _stop_group(proc)
    return {
        "returncode": returncode,
        "seconds": round(time.perf_counter() - t, 1),
        "peak_rss_mb": watch.root_peak_mb,
        "child_peak_rss_mb": watch.peak_mb,
        "stopped": stopped,
    }


def _default_sigterm() -> None:
    """In the step's process before exec: SIGTERM with its default action and unblocked. An ignored or
    blocked signal is inherited through exec (seen under the test runner's worker processes), and the
    step would then run on until the SIGKILL after the grace period."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _wait(proc: subprocess.Popen, stop_at: float | None) -> int | None:
    """The exit code, or None once `stop_at` has passed with the process still running."""
    try:
        return proc.wait(timeout=None if stop_at is None else max(stop_at - time.time(), 0.01))
    except subprocess.TimeoutExpired:
        return None


def _stop_group(proc: subprocess.Popen, grace: float = 60.0) -> None:
    """SIGTERM to the step's process group (a night, its dbt child...), SIGKILL after `grace` seconds."""
    import signal

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _canonical_csv(conn, entity: str, where: str, path: Path) -> int:
    """Write raw.<entity> rows matching `where` as the contract's canonical CSV; returns row count."""
    from orchestration.contract import ENTITIES

    cols = ", ".join(f'"{c.name}"' for c in ENTITIES[entity].columns)
    n = conn.execute(f"select count(*) from raw.{entity} where {where}").fetchone()[0]
    if n:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn.execute(
            f"copy (select {cols} from raw.{entity} where {where} order by _source_file, _source_line) "
            f"to '{path}' (header, delimiter ',')"
        )
    return n


def _night_env(work: Path, night: str, landing: str) -> dict[str, str]:
    root = work / night
    return {
        "OPSCENTER_WAREHOUSE": str(root / WAREHOUSE),
        "OPSCENTER_RAW_DIR": str(work / landing),
        "OPSCENTER_PUBLISH_DIR": str(root / "published"),
        "OPSCENTER_QUALITY_DIR": str(root / "quality"),
        "OPSCENTER_ALERT_LOG": str(root / "alerts.jsonl"),
        "OPSCENTER_DIGEST_LOG": str(root / "digests.jsonl"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


# ---------------------------------------------------------------------------------------------- steps


def step_generate(work: Path, clients: int, months: int) -> dict:
    from orchestration.demo import generate

    summary = generate(work / "gen", AS_OF, seed=42, clients=clients, months=months)
    return {"rows": summary["unique_keys"]}


def night_load_options(warehouse: Path):
    """The loader's options as a night sets them (OPSCENTER_LOAD_MEMORY_LIMIT, default 2GB; temp storage
    next to the warehouse), without the settle wait: the benchmark wrote its files itself. Without them
    DuckDB's own memory limit (80 % of the machine's RAM) would apply and the step would not measure
    the night's load."""
    from orchestration.resources import LandingZoneResource

    limit, temp = settings.load_memory_limit(), settings.load_temp_dir()
    landing = LandingZoneResource(path="", settle_seconds=0, memory_limit=limit, temp_dir=temp)
    return landing.load_options(str(warehouse))


def step_load(work: Path, clients: int, months: int) -> dict:
    """Every entity of the generated exports (GB18030, xlsx, Chinese headers...) into a fresh warehouse,
    with the night's loader options; per entity, seconds and the process's RSS high-water mark after it."""
    import duckdb

    from orchestration.contract import ENTITIES
    from orchestration.loading import load_entity

    options, entities = night_load_options(work / WAREHOUSE), {}
    with duckdb.connect(str(work / WAREHOUSE)) as conn:
        for entity in ENTITIES:
            t = time.perf_counter()
            load_entity(conn, entity, work / "gen", load_id="bench", as_of_date=AS_OF, options=options)
            entities[entity] = {"seconds": round(time.perf_counter() - t, 1), "peak_rss_mb": _peak_rss_mb()}
    return {"memory_limit": options.memory_limit, "entities": entities}


# facts that come into existence on a day: absent from the landing zone the day before
BORN_ON = {
    "payments": "paid_date",
    "invoices": "issue_date",
    "tasks": "created_at",
    "feedback": "feedback_date",
}


def step_split(work: Path, clients: int, months: int) -> dict:
    """Yesterday's landing zone and today's drop, from the loaded rows. The drop holds every row updated
    on AS_OF (new rows and re-sent versions of older ones). Yesterday holds every row except facts born
    on AS_OF (payments paid, invoices issued, tasks created, feedback given that day), so its references
    stay whole; a row that changed on AS_OF appears there in today's version, which the drop re-sends."""
    import duckdb

    from orchestration.contract import ENTITIES

    drop_rows = {}
    with duckdb.connect(str(work / WAREHOUSE), read_only=True) as conn:
        for entity, spec in ENTITIES.items():
            born = f"cast({BORN_ON[entity]} as date) = date '{AS_OF}'" if entity in BORN_ON else "false"
            today = f"cast(updated_at as date) = date '{AS_OF}'" if spec.has_updated_at else born
            _canonical_csv(
                conn,
                entity,
                f"not coalesce({born}, false)",
                work / "lz_yesterday" / entity / "bench_0_base.csv",
            )
            drop_rows[entity] = _canonical_csv(
                conn, entity, f"coalesce({today}, false) or coalesce({born}, false)",
                work / "drop" / entity / f"bench_1_drop_{AS_OF:%Y%m%d}.csv",
            )  # fmt: skip
    # the floor step starts from the warehouse as dbt found it
    shutil.copy(work / WAREHOUSE, work / "pre_dbt.duckdb")
    # today's full landing zone = yesterday's files (hard links) + the drop
    for lz in ("lz_today", "lz_incremental"):
        shutil.rmtree(work / lz, ignore_errors=True)
        shutil.copytree(work / "lz_yesterday", work / lz, copy_function=os.link)
    shutil.copytree(work / "drop", work / "lz_today", copy_function=os.link, dirs_exist_ok=True)
    landed_earlier(work / "lz_yesterday", work / "drop")
    return {"drop_rows": drop_rows}


def landed_earlier(*folders: Path, hours: float = 1.0) -> int:
    """Date the benchmark's export files `hours` back (the landing zones' hard links share them): a real
    night starts hours after its exports land, but the night right after this step would otherwise wait
    out the loader's settle window (contract 1.1, 60 s by default) on files written seconds before;
    measured 54 s of the 100k full night of 2026-12-03. Returns the number of files dated."""
    when = time.time() - hours * 3600
    files = [f for folder in folders for f in folder.rglob("*") if f.is_file()]
    for f in files:
        os.utime(f, (when, when))
    return len(files)


def _dbt_build(
    work: Path, warehouse: Path, target: Path, as_of: dt.date = AS_OF, parsed: Path | None = None
) -> None:
    from dbt.cli.main import dbtRunner

    from orchestration.assets.dbt import seed_partial_parse

    os.environ["OPSCENTER_WAREHOUSE"] = str(warehouse)
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["DBT_AS_OF_DATE"] = as_of.isoformat()  # as a night's dbt step: no --vars, no re-parse
    shutil.rmtree(target, ignore_errors=True)  # a night's target folder is fresh too
    target.mkdir(parents=True)
    seed_partial_parse(target, [parsed] if parsed else [])  # the previous night's parse, if any
    project = str(settings.DBT_PROJECT_DIR)
    result = dbtRunner().invoke(
        ["build", "--project-dir", project, "--profiles-dir", project, "--target-path", str(target),
         "--log-path", str(target / "logs"), "--quiet"]
    )  # fmt: skip
    if not result.success:
        raise SystemExit(f"dbt build failed: {result.exception}")


def step_dbt(work: Path, clients: int, months: int) -> dict:
    """`dbt build` of every model and test, in this process (dbtRunner) so VmHWM is dbt's own."""
    _dbt_build(work, work / WAREHOUSE, work / "target")
    return _dbt_summary(work / "target")


RULE_MODELS = ("int_payments_identified_at_cutoffs", "int_payment_applications_direct",
               "int_payment_applications_client", "int_payment_applications_at_cutoffs")  # fmt: skip


def step_dbt_next_day(work: Path, clients: int, months: int) -> dict:
    """The next night's `dbt build` (as of AS_OF + 1) on a copy of the dbt step's warehouse: the
    incremental models compute only the new as-of cutoff and keep the unchanged month ends."""
    # in place (the warehouse path is part of dbt's parse state) from the dbt step's parse, as a night
    # after another; the dbt step's warehouse is put back afterwards
    shutil.copy(work / WAREHOUSE, work / "next_day.duckdb")
    t = time.perf_counter()
    next_day = AS_OF + dt.timedelta(days=1)
    _dbt_build(work, work / WAREHOUSE, work / "target_next_day", next_day, parsed=work / "target")
    seconds = time.perf_counter() - t
    (work / "next_day.duckdb").replace(work / WAREHOUSE)
    return {**_dbt_summary(work / "target_next_day"), "dbt_seconds": round(seconds, 1)}


_LOG_LINE = re.compile(r"^(?:\x1b\[0m)?(\d\d):(\d\d):(\d\d\.\d+) \[\w+\s*\] \[([^\]]+)\]: (.*)$")
_SQL_STATUS = re.compile(r"SQL status: \S+ in ([\d.]+) seconds")


def log_events(log: Path) -> Iterator[tuple[float, str, str]]:
    """(seconds, thread, message) of every event of a dbt debug log, in either of dbt's formats: text
    (`dbt build` as the benchmark's dbt step runs it; seconds of the day) or JSON lines (a night's
    dbt under dagster-dbt, `--log-format json`; seconds since the epoch). Other lines are skipped."""
    for raw in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if raw.startswith("{"):
            try:
                info = json.loads(raw)["info"]
                t = dt.datetime.fromisoformat(info["ts"].replace("Z", "+00:00")).timestamp()
                yield t, info["thread"], info["msg"]
            except (ValueError, KeyError, TypeError):
                continue
        elif m := _LOG_LINE.match(raw):
            h, mi, sec, thread, msg = m.groups()
            yield int(h) * 3600 + int(mi) * 60 + float(sec), thread, msg


def dbt_log_breakdown(log: Path) -> dict:
    """Where a `dbt build`'s wall time went, from its debug log (target/logs/dbt.log): `start` (from
    the first log line to the parse), `parse`, `run` (first node started to last node finished) and
    `end` (artifacts); per node kind, thread-seconds inside SQL statements (`sql`) and outside them
    (`python`: compiling, writing files, events, result handling) while a node ran."""
    return events_breakdown(log_events(log))


def events_breakdown(events) -> dict:
    """dbt_log_breakdown of (seconds, thread, message) events of one invocation; also `plan`, the
    seconds from the parse to the first node (graph, selection, cache of the schemas)."""
    stamps: dict[str, float] = {}
    began: dict[str, tuple[str, float]] = {}
    node_s: dict[str, float] = {}
    sql_s: dict[str, float] = {}
    for t, thread, msg in events:
        stamps.setdefault("first", t)
        stamps["last"] = t
        if msg.startswith(("Unable to do partial parsing", "Partial parsing enabled")):
            stamps.setdefault("parse_start", t)
        elif msg.startswith("Found ") and "models" in msg:
            stamps["parsed"] = t
        elif msg.startswith("Began running node "):
            stamps.setdefault("run_start", t)
            began[thread] = (msg.split()[-1].split(".")[0], t)
        elif msg.startswith("Finished running node ") and thread in began:
            kind, t0 = began.pop(thread)
            node_s[kind] = node_s.get(kind, 0.0) + t - t0
            stamps["run_end"] = t
        elif (status := _SQL_STATUS.match(msg)) and thread in began:
            kind = began[thread][0]
            sql_s[kind] = sql_s.get(kind, 0.0) + float(status.group(1))
    if not {"first", "parsed", "run_start", "run_end"} <= stamps.keys():
        return {}
    parse_start = stamps.get("parse_start", stamps["first"])
    return {
        "phases": {
            "start": round(parse_start - stamps["first"], 1),
            "parse": round(stamps["parsed"] - parse_start, 1),
            "run": round(stamps["run_end"] - stamps["run_start"], 1),
            "end": round(stamps["last"] - stamps["run_end"], 1),
        },
        "plan": round(stamps["run_start"] - stamps["parsed"], 1),
        "thread_seconds": {
            k: {"sql": round(sql_s.get(k, 0.0), 1), "python": round(v - sql_s.get(k, 0.0), 1)}
            for k, v in node_s.items()
        },
    }


def dbt_invocations(run_folder: Path) -> list[dict]:
    """Each dbt invocation of a night (a night's dbt steps append to one JSON-lines dbt.log in the
    run's target folder, rotated to dbt.log.1...), in order: its wall seconds by phase (start, parse,
    plan, run, end) and the number of nodes run."""
    logs = sorted(
        run_folder.glob("dbt.log*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0
    )
    runs: list[list] = []
    for event in (e for log in logs for e in log_events(log)):
        if event[2].startswith("Running with dbt=") or not runs:
            runs.append([])
        runs[-1].append(event)
    out = []
    for events in runs:
        got = events_breakdown(events)
        if got:
            nodes = sum(1 for _, _, m in events if m.startswith("Finished running node "))
            out.append({**got["phases"], "plan": got["plan"], "nodes": nodes})
    return out


def finished_nodes(log: Path) -> dict[str, float]:
    """Seconds of every node that finished, by name, from a dbt debug log (text or JSON lines): also
    readable when dbt was stopped before it wrote run_results.json."""
    began: dict[str, tuple[str, float]] = {}
    done: dict[str, float] = {}
    for t, thread, msg in log_events(log) if log.is_file() else []:
        if msg.startswith("Began running node "):
            began[thread] = (msg.split()[-1], t)
        elif msg.startswith("Finished running node ") and thread in began:
            node, t0 = began.pop(thread)
            done[node.split(".")[2]] = round(t - t0 + (86400 if t < t0 else 0), 1)  # type.package.name[.hash]
    return done


def stopped_dbt(logs: list[Path]) -> dict:
    """What a stopped dbt did before the stop: nodes finished and the slowest of them (from its logs)."""
    nodes: dict[str, float] = {}
    for log in logs:
        nodes.update(finished_nodes(log))
    slowest = sorted(nodes.items(), key=lambda kv: -kv[1])[:8]
    return {"nodes_finished": len(nodes), "slowest_finished": [[n, s] for n, s in slowest]}


def _dbt_summary(target: Path) -> dict:
    results = json.loads((target / "run_results.json").read_text())["results"]
    by_type: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        by_type[kind] = by_type.get(kind, 0.0) + r["execution_time"]
    slowest = sorted(results, key=lambda r: -r["execution_time"])[:8]
    rule = sum(r["execution_time"] for r in results if r["unique_id"].split(".")[-1] in RULE_MODELS)
    return {
        "nodes": len(results),
        "rule_model_seconds": round(rule, 1),
        "node_seconds": {k: round(v, 1) for k, v in by_type.items()},
        "slowest": [[r["unique_id"].split(".")[-1], round(r["execution_time"], 1)] for r in slowest],
        **dbt_log_breakdown(target / "logs" / "dbt.log"),
    }


_TMP_CREATE = re.compile(r'create\s+(table|view)\s+("[^"]+"\."[^"]+"\."[^"]+?)__dbt_tmp"', re.IGNORECASE)


def floor_statements(target: Path) -> list[tuple[str, str, str]]:
    """(node kind, name, SQL) of what `dbt build` ran, in its completion order (a valid dependency
    order: a node starts only after its parents finished), read from target/run/**.

    A table/view lands in `<name>__dbt_tmp` and dbt renames it afterwards; here it is created under its
    final name directly (`create or replace`). Seeds (CSV loads) and hooks are not SQL files and are
    left in place from the dbt run.
    """
    manifest = json.loads((target / "manifest.json").read_text())["nodes"]
    run_root = target / "run"
    out = []
    for r in json.loads((target / "run_results.json").read_text())["results"]:
        node = manifest.get(r["unique_id"])
        if node is None or node["resource_type"] not in ("model", "test") or node.get("language") == "python":
            continue  # the renewal model's Python models (models/ml): their tables are copied in (step_floor)
        base = run_root / node["package_name"] / node["original_file_path"]
        path = base / node["path"] if node["resource_type"] == "test" and base.suffix == ".yml" else base
        if node["resource_type"] == "test" and not path.exists():
            path = run_root / node["package_name"] / node["original_file_path"]
        sql = path.read_text()
        sql = _TMP_CREATE.sub(lambda m: f'create or replace {m.group(1)} {m.group(2)}"', sql)
        sql = sql.replace('__dbt_tmp"', '"')
        out.append((node["resource_type"], node["name"], sql))
    return out


def step_floor(work: Path, clients: int, months: int) -> dict:
    """The dbt step's SQL run directly in DuckDB, same order, one connection with dbt's DuckDB memory
    limit and threads, on the warehouse as dbt found it (seeds and the ml tables, which dbt loads from
    CSV / builds with its Python models, are copied in from dbt's result first, untimed, so the SQL reads
    what dbt's read); then the two Python models run directly, timed apart (`python_seconds`)."""
    import duckdb

    floor_dir = work / "floor"
    floor_dir.mkdir(exist_ok=True)
    shutil.copy(work / "pre_dbt.duckdb", floor_dir / WAREHOUSE)
    statements = floor_statements(work / "target")
    seconds: dict[str, float] = {"model": 0.0, "test": 0.0}
    # the DuckDB settings dbt's profile gives its connection, so the floor is measured as dbt runs
    config = {
        "memory_limit": settings.dbt_memory_limit(),
        "threads": settings.dbt_threads(),
        "disabled_compression_methods": settings.dbt_disabled_compression(),
    }
    with duckdb.connect(str(floor_dir / WAREHOUSE), config=config) as conn:
        conn.execute(f"attach '{work / WAREHOUSE}' as built (read_only)")
        for schema in ("seeds", "ml", "staging", "intermediate", "core", "marts"):
            conn.execute(f"create schema if not exists {schema}")
        for schema, table in conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'built' and table_schema in ('seeds', 'ml')"
        ).fetchall():
            conn.execute(f"create table {schema}.{table} as select * from built.{schema}.{table}")
        conn.execute("detach built")
        for kind, _name, sql in statements:
            t = time.perf_counter()
            conn.execute(sql)
            if kind == "test":
                conn.fetchall()
            seconds[kind] += time.perf_counter() - t
        python_seconds = _floor_python_models(conn)
    (floor_dir / WAREHOUSE).unlink()
    return {
        "statements": len(statements),
        "sql_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "python_seconds": round(python_seconds, 1),
        "memory_limit": f"memory_limit {config['memory_limit']}, {config['threads']} threads",
    }


def _run_renewal_models(conn) -> None:
    """The dbt build's two Python models run directly: renewal.train_and_score as they run it, their
    tables written back."""
    from orchestration.models import renewal
    from orchestration.models.ml_tables import write_table

    scores, evaluation = renewal.train_and_score(conn, AS_OF)
    write_table(conn, "renewal_scores", scores)
    write_table(conn, "renewal_model_evaluation", evaluation)


def _floor_python_models(conn) -> float:
    """Seconds of the two Python models run directly on the floor's connection: the dbt step's build
    does this work too (in a fresh warehouse, so with an empty tuning cache: emptied here likewise), and
    a floor without it would charge the model's fits to dbt's orchestration."""
    from orchestration.models import renewal

    conn.execute(f"delete from ml.{renewal.TUNING_TABLE}")
    t = time.perf_counter()
    _run_renewal_models(conn)
    return time.perf_counter() - t


def step_ml(work: Path, clients: int, months: int) -> dict:
    """The renewal model alone (evaluate, choose, score; renewal.train_and_score as its two dbt Python
    models run it), timed outside dbt; the dbt step has built it too, inside the dbt build. The
    collection forecast and its backtest are dbt models, timed with the dbt build."""
    import duckdb

    with duckdb.connect(str(work / WAREHOUSE)) as conn:
        _run_renewal_models(conn)
    return {}


def step_quality(work: Path, clients: int, months: int) -> dict:
    """Every GX suite of the gate (raw and core checks) over the dbt step's warehouse."""
    from orchestration.quality import QualityConfig, run_quality_suites

    outcomes = run_quality_suites(work / WAREHOUSE, AS_OF, work / "quality_docs", QualityConfig())
    return {"checks": len(outcomes), "failed": sorted(o.name for o in outcomes if not o.passed)}


def step_publish(work: Path, clients: int, months: int) -> dict:
    """A night's last step alone: publication (snapshot of marts and core, every report page, manifest,
    masking check, seal) of the dbt step's warehouse into a fresh publish root, as the nightly job's
    publish asset calls it. Works on a copy of the warehouse (made first, not timed), so it may run
    beside the other steps."""
    from orchestration.assets.publish import RenderContext
    from orchestration.definitions import render_pages
    from orchestration.publish import publish_run
    from orchestration.publish.snapshot import dbt_descriptions, dbt_identities

    source, root = work / "publish_source.duckdb", work / "publish"
    shutil.copy(work / WAREHOUSE, source)
    shutil.rmtree(root, ignore_errors=True)
    context = RenderContext(AS_OF.isoformat(), "bench")
    phases = Phases()
    instrument_night(phases, prefix="publish:")
    t = time.perf_counter()
    with phases.timed("publication"):
        folder = publish_run(
            source, root, as_of_date=AS_OF.isoformat(), run_id="bench", code_version="bench", checks=[],
            render=lambda snapshot, pages: render_pages(snapshot, pages, context), schemas=("marts", "core"),
            descriptions=dbt_descriptions(settings.DBT_PROJECT_DIR / "target" / "manifest.json"),
            identities=dbt_identities(settings.DBT_PROJECT_DIR / "target" / "manifest.json"),
            memory_limit=settings.publish_memory_limit(),
        )  # fmt: skip
    seconds = time.perf_counter() - t
    source.unlink()
    stages = phases.as_dict()
    return {
        "publish_seconds": round(seconds, 1),
        "publish_peak_rss_mb": stages.pop("publication").get("peak_rss_mb"),
        "stages": stages,
        **published_files(folder),
    }


def published_files(folder: Path) -> dict:
    """What a published version holds: HTML pages and other files under pages/, bytes in all."""
    files = [f for f in folder.rglob("*") if f.is_file()]
    pages = [f for f in files if (folder / "pages") in f.parents]
    return {
        "html_pages": sum(f.suffix == ".html" for f in pages),
        "other_page_files": sum(f.suffix != ".html" for f in pages),
        "mb": round(sum(f.stat().st_size for f in files) / 2**20, 1),
    }


def _night(work: Path, night: str, landing: str, as_of: dt.date) -> dict:
    """One `nightly` job in this process (env set before Dagster is imported); step times from the run,
    and where the night's wall and CPU seconds went (`breakdown`, see `night_breakdown`)."""
    env = _night_env(work, night, landing)
    Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    (Path(env["DAGSTER_HOME"]) / "dagster.yaml").touch()
    os.environ.update(env)
    phases, clock = Phases(), CpuClock()
    t, began = time.perf_counter(), time.time()
    with clock, ChildPeak() as children:
        with phases.timed("start-up: import Dagster and the definitions"):
            from orchestration.cli import run_nightly
            from orchestration.definitions import defs  # noqa: F401 - run_nightly's import, timed here

        instrument_night(phases)
        instrument_steps(phases.peaks)
        ok = run_nightly(as_of.isoformat())
        ended = time.time()
    wall = time.perf_counter() - t
    steps = night_step_seconds(Path(env["DAGSTER_HOME"]))
    breakdown = night_breakdown(Path(env["DAGSTER_HOME"]), steps["run_id"], clock, phases, began, ended)
    for key, part in breakdown.get("steps", {}).items():  # each step's own peak and its children's
        if f"{STEP_SPAN}{key}" in phases.peaks.peaks:
            part["peak_rss_mb"] = phases.peaks.peaks[f"{STEP_SPAN}{key}"]
        span = part.pop("span")
        part["child_peak_rss_mb"] = children.child_peak_between(*span, skip=(clock.pid,))
    return {
        "success": ok,
        "night_seconds": round(wall, 1),
        "steps": steps["steps"],
        "child_peak_rss_mb": children.peak_mb,
        "peaks_exact": phases.peaks.exact,
        "breakdown": {**breakdown, "dbt": dbt_invocations(settings.DBT_NIGHTS_DIR / steps["run_id"])},
        "loads": load_file_statuses(Path(env["OPSCENTER_WAREHOUSE"]), steps["run_id"]),
    }


def _cpu_now() -> float:
    """CPU seconds (user + system) of this process's threads, its reaped children and its live
    descendants (a night's dbt subprocess while it runs: its CPU counts when it is spent, not when
    Dagster reaps the process, which may be a step later)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + descendants_cpu(os.getpid())


def descendants_cpu(root: int) -> float:
    """CPU seconds of the live descendants of process `root` (each with its reaped children)."""
    return tree_cpu(root, with_root=False)


class CpuClock:
    """Samples (epoch seconds, CPU seconds of this process tree) every `interval` seconds while
    entered, from a helper process (a sampling thread here would stall whenever the night holds
    the GIL): the CPU seconds of any span of the night (a Dagster step, from its event times) are
    read off the samples."""

    def __init__(self, interval: float = 0.25):
        self.interval, self.samples = interval, []
        handle, name = tempfile.mkstemp(prefix="cpu_clock_", suffix=".txt")
        os.close(handle)
        self._file = Path(name)

    def cpu(self, start: float, end: float) -> float:
        """CPU seconds between two epoch instants (the nearest samples at or before each)."""
        import bisect

        times = [s[0] for s in self.samples]

        def at(t: float) -> float:
            i = bisect.bisect_right(times, t) - 1
            return self.samples[max(i, 0)][1] if self.samples else 0.0

        return max(at(end) - at(start), 0.0)

    @property
    def pid(self) -> int:
        """The helper process's id (a descendant of the night, not part of its work)."""
        return self._proc.pid

    def __enter__(self) -> CpuClock:
        code = "import sys; from orchestration.benchmark import sample_cpu; sample_cpu(*sys.argv[1:])"
        args = [str(os.getpid()), str(self.interval), str(self._file)]
        # SIGTERM restored in the helper: an ignored one is inherited (under the test runner's workers
        # it was, and __exit__'s terminate() then waited forever on a sampler that never stops)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], cwd=settings.REPO_ROOT, preexec_fn=_default_sigterm
        )
        while not self._file.stat().st_size and self._proc.poll() is None:  # its first sample
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(self.interval * 1.5)  # a last sample after the end
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # never hang the night or a test on its clock
            self._proc.kill()
            self._proc.wait()
        for line in self._file.read_text().splitlines():
            fields = line.split()
            if len(fields) == 2:  # a line cut by the kill above is left out
                self.samples.append((float(fields[0]), float(fields[1])))
        self._file.unlink(missing_ok=True)


def sample_cpu(root: str, interval: str, path: str) -> None:
    """The CpuClock's helper: appends `epoch-seconds cpu-seconds` of process `root`'s tree (itself
    left out) to `path` every `interval` seconds, until stopped or `root` ends."""
    with open(path, "a") as out:
        while Path(f"/proc/{root}").exists():
            out.write(f"{time.time()} {tree_cpu(int(root), skip=os.getpid())}\n")
            out.flush()
            time.sleep(float(interval))


def tree_cpu(root: int, skip: int | None = None, with_root: bool = True) -> float:
    """CPU seconds of process `root` (its threads and its reaped children) and of its live
    descendants but `skip` (each with its reaped children): utime + stime + cutime + cstime.

    Walks the tree from `root` by /proc/<pid>/task/<tid>/children (a few small files per process)
    rather than reading every process's stat on the machine: the night's phases and the CPU clock
    call this hundreds of times a night, and a scan of all of /proc cost seconds of a measured night
    on a busy machine. Falls back to the full scan where the kernel has no `children` files."""
    if not os.path.exists(f"/proc/{root}/task/{root}/children"):
        return _tree_cpu_scan(root, skip, with_root)
    own = _own_ticks(root) if with_root else 0
    return (own + sum(_own_ticks(pid) for pid, _parent in descendants(root, skip))) / os.sysconf("SC_CLK_TCK")


def descendants(root: int, skip: int | None = None) -> list[tuple[int, int]]:
    """(pid, parent pid) of the live descendants of process `root`, but `skip` and its own, by
    /proc/<pid>/task/<tid>/children; by every process's stat where the kernel has no such files."""
    if not os.path.exists(f"/proc/{root}/task/{root}/children"):
        parents = {int(stat.parent.name): _stat(str(stat))[0] for stat in Path("/proc").glob("[0-9]*/stat")}
        children = lambda pid: [p for p, pp in parents.items() if pp == pid]  # noqa: E731
    else:
        children = _children
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid in children(parent) if pid != skip]
        found += [(pid, parent) for pid in kids]
        frontier += kids
    return found


def _children(pid: int) -> list[int]:
    """The live children of process `pid` (those of each of its threads)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    kids = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            continue
    return kids


def _own_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of process `pid` in clock ticks (0 when it is gone)."""
    return _stat(f"/proc/{pid}/stat")[1]


def _stat(path: str) -> tuple[int, int]:
    """(parent pid, utime + stime + cutime + cstime in ticks) from a /proc/<pid>/stat; (0, 0) when gone."""
    try:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), sum(int(x) for x in fields[11:15])
    except (OSError, IndexError, ValueError):
        return 0, 0


def _tree_cpu_scan(root: int, skip: int | None = None, with_root: bool = True) -> float:
    """tree_cpu from every process's stat (kernels without /proc/<pid>/task/<tid>/children)."""
    tick = os.sysconf("SC_CLK_TCK")
    procs = {int(stat.parent.name): _stat(str(stat)) for stat in Path("/proc").glob("[0-9]*/stat")}
    total, frontier = procs.get(root, (0, 0))[1] if with_root else 0, [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, (ppid, _) in procs.items() if ppid == parent and pid != skip]
        total += sum(procs[pid][1] for pid in kids)
        frontier += kids
    return total / tick


class Phases:
    """Wall and CPU seconds (`_cpu_now`) and calls of named phases of a night, summed over calls, and
    each phase's peak RSS in this process (the largest over its calls, see `Peaks`).

    A background phase (`timed(..., background=True)`: publication's snapshot check, a thread beside the
    render) counts its own thread's CPU clock, and so does every phase nested in it (labelled
    `<label> (background)`); a phase of another thread that began while it ran does not count the
    CPU it spent meanwhile (a phase that began before it, e.g. a whole publication, does). The
    process's CPU covers all its threads and processes: without this, the check's phases counted the
    render's two processes while they ran beside it, and the render the check (docs/benchmarks.md,
    pubday). Exact when the background work runs on its own thread (the check's DuckDB has one)."""

    def __init__(self, peaks: Peaks | None = None):
        self.totals: dict[str, list[float]] = {}
        self.peaks = peaks or PEAKS
        self._lock = threading.Lock()
        self._running: dict[int, tuple[int, int]] = {}  # thread -> (background phase, its CPU clock)
        self._ended: dict[int, float] = {}  # background phase -> its thread's CPU clock at its end
        self._count = 0

    def add(self, label: str, wall: float, cpu: float) -> None:
        calls, w, c = self.totals.get(label, [0, 0.0, 0.0])
        self.totals[label] = [calls + 1, w + wall, c + cpu]

    def _background_clocks(self, phases=None) -> dict[int, float]:
        """The CPU clock of each running background phase (of `phases`, ended ones at their end)."""
        with self._lock:
            now = {phase: time.clock_gettime(clock) for phase, clock in self._running.values()}
        return now if phases is None else {p: now[p] if p in now else self._ended[p] for p in phases}

    @contextlib.contextmanager
    def timed(self, label: str, background: bool = False) -> Iterator[None]:
        t, ident = time.perf_counter(), threading.get_ident()
        if ident in self._running or background:
            nested = ident in self._running
            clock = time.pthread_getcpuclockid(ident)
            start = time.clock_gettime(clock)
            if not nested:
                with self._lock:
                    self._count += 1
                    phase = self._count
                    self._running[ident] = (phase, clock)
            try:
                with self.peaks.span(label):
                    yield
            finally:
                spent = time.clock_gettime(clock) - start
                if not nested:
                    with self._lock:
                        del self._running[ident]
                        self._ended[phase] = start + spent
                self.add(f"{label} (background)" if nested else label, time.perf_counter() - t, spent)
            return
        c, beside = _cpu_now(), self._background_clocks()
        try:
            with self.peaks.span(label):
                yield
        finally:
            theirs = sum(now - beside[p] for p, now in self._background_clocks(beside).items())
            self.add(label, time.perf_counter() - t, _cpu_now() - c - theirs)

    def wrap(self, module, name: str, label: str, background: bool = False) -> bool:
        """Replace `module.name` (looked up by its callers at call time; `Class.method` for a method)
        by a timed version of it. False when there is no such function (it moved: not timed)."""
        *owner, name = name.split(".")
        for part in owner:
            module = getattr(module, part, None)
        fn = getattr(module, name, None)
        if fn is None:
            return False
        if getattr(fn, "_bench_timed", False):
            return True

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            with self.timed(label, background):
                return fn(*args, **kwargs)

        timed._bench_timed = True
        setattr(module, name, timed)
        return True

    def as_dict(self) -> dict:
        out = {k: {"calls": n, "seconds": round(w, 1), "cpu_seconds": round(c, 1)}
               for k, (n, w, c) in self.totals.items()}  # fmt: skip
        for k, v in out.items():
            if k in self.peaks.peaks:
                v["peak_rss_mb"] = self.peaks.peaks[k]
        return out


# publication's check of the snapshot's files, in a thread beside the render (publisher._SnapshotCheck)
BACKGROUND_CHECK = "publish: snapshot files' scan + hashes (background, beside pages)"
# The parts of a night timed from inside (module, function, label): the loader's per-entity phases
# and publication's stages. Each is a module-level function (or `Class.method`) its caller looks up at
# call time.
NIGHT_PHASES = (
    ("orchestration.loading.loader", "_prepare", "load: prepare (schema, macros, settings)"),
    ("orchestration.loading.loader", "_complete_files", "load: list files, settle check"),
    ("orchestration.loading.loader", "_plan", "load: checksum / scan, skip decisions"),
    ("orchestration.loading.loader", "_load_file", "load: read + stage new files"),
    ("orchestration.loading.loader", "_dedup", "load: dedup (new rows + previous winners)"),
    ("orchestration.loading.loader", "publish", "load: write raw table + bookkeeping"),
    ("orchestration.assets.publish", "run_check_results", "publish: the run's check results (event log)"),
    ("orchestration.assets.publish", "code_version", "publish: code version (git)"),
    ("orchestration.assets.publish", "dbt_descriptions", "publish: dbt descriptions (dbt manifest)"),
    ("orchestration.publish.publisher", "_start_version", "publish: clear leftovers, start the version"),
    ("orchestration.publish.publisher", "_current_manifest", "publish: read the current manifest"),
    ("orchestration.publish.publisher", "_verified_files", "publish: verify earlier versions' files"),
    ("orchestration.publish.publisher", "_write_snapshot", "publish: snapshot"),
    ("orchestration.publish.publisher", "_SnapshotCheck._run", BACKGROUND_CHECK),
    ("orchestration.publish.publisher", "_write_pages", "publish: pages"),
    ("orchestration.publish.publisher", "_copy_attachments", "publish: attachments (data docs)"),
    ("orchestration.publish.publisher", "_version_files", "publish: walk the version's files"),
    ("orchestration.publish.publisher", "_SnapshotCheck.result", "publish: wait for the snapshot's check"),
    ("orchestration.publish.publisher", "_next_sequence", "publish: next sequence (kept versions' order)"),
    ("orchestration.publish.publisher", "_manifest", "publish: manifest"),
    ("orchestration.publish.publisher", "_write_manifest", "publish: write manifest.json"),
    ("orchestration.publish.publisher", "_refuse_personal_data", "publish: personal-data scan"),
    ("orchestration.publish.publisher", "_seal", "publish: seal"),
    ("orchestration.publish.publisher", "_make_visible", "publish: make visible, retention"),
    ("orchestration.publish.publisher", "_prune_state", "publish: prune the patch state"),
    ("orchestration.assets.publish", "_publish_metadata", "publish: materialization metadata"),
    ("orchestration.assets.publish", "_send_morning_digest", "publish: morning digest"),
    ("orchestration.sensors", "notify_run_warnings", "after the run: alerts of a green night"),
    ("orchestration.sensors", "notify_run_failure", "after the run: failure alert"),
)


def instrument_night(phases: Phases, prefix: str = "") -> None:
    """Time NIGHT_PHASES (those whose label starts with `prefix`) in this process; a function that
    moved is skipped (noted as not timed)."""
    import importlib

    for module_name, name, label in NIGHT_PHASES:
        if not label.startswith(prefix):
            continue
        phases.wrap(importlib.import_module(module_name), name, label, background=label == BACKGROUND_CHECK)


STEP_SPAN = "step: "  # the Peaks label of a Dagster step, before its step key


def instrument_steps(peaks: Peaks) -> None:
    """Measure the peak RSS of every Dagster step this process executes (the in-process executor runs
    one at a time): the plan executor's per-step event generator, wrapped in a `Peaks` span. Dagster
    internals: when the function moved, steps are not measured (their peaks are then missing)."""
    from dagster._core.execution.plan import execute_plan

    fn = getattr(execute_plan, "dagster_event_sequence_for_step", None)
    if fn is None or getattr(fn, "_bench_peaks", False):
        return

    @functools.wraps(fn)
    def measured(step_context, *args, **kwargs):
        with peaks.span(f"{STEP_SPAN}{step_context.step.key}"):
            yield from fn(step_context, *args, **kwargs)

    measured._bench_peaks = True
    execute_plan.dagster_event_sequence_for_step = measured


def night_breakdown(
    dagster_home: Path, run_id: str, clock: CpuClock, phases: Phases, began: float, ended: float
) -> dict:
    """Where a night's wall and CPU seconds went: start-up (imports, definitions), Dagster's run
    start (resources) before the first step, every step (wall from its events, CPU from the clock),
    Dagster between steps, after the last step (run end, alerts), and the timed phases inside steps
    (loader, publication). dbt's CPU is its subprocess's, counted when the step reaps it."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    stats = [s for s in instance.get_run_step_stats(run_id) if s.start_time and s.end_time]
    stats.sort(key=lambda s: s.start_time)

    def span(start: float, end: float) -> dict:
        return {"seconds": round(max(end - start, 0.0), 1), "cpu_seconds": round(clock.cpu(start, end), 1)}

    startup = phases.totals.get("start-up: import Dagster and the definitions", [0, 0.0, 0.0])
    out: dict = {"start-up": {"seconds": round(startup[1], 1), "cpu_seconds": round(startup[2], 1)}}
    logs = instance.all_logs(run_id)
    kinds: dict[str, int] = {}
    for entry in logs:
        kinds[kind_of(entry)] = kinds.get(kind_of(entry), 0) + 1
    out["events"] = dict(sorted(kinds.items(), key=lambda kv: -kv[1]))
    run_start = next((e.timestamp for e in logs if kind_of(e) == dg.DagsterEventType.RUN_START.value), None)
    if stats:
        resolved = run_start or began + startup[1]
        if run_start:
            out["Dagster: resolve the job, plan the run"] = span(began + startup[1], run_start)
        out["run start (until the first step)"] = span(resolved, stats[0].start_time)
        out["steps"] = {
            s.step_key: {**span(s.start_time, s.end_time), "span": [s.start_time, s.end_time]} for s in stats
        }
        gap, last = 0.0, stats[0].start_time
        for s in stats:  # the in-process executor runs one step at a time
            gap += max(s.start_time - last, 0.0)
            last = max(last, s.end_time)
        out["between steps"] = {"seconds": round(gap, 1)}
        out["after the last step (run end, alerts)"] = span(last, ended)
    out["phases"] = phases.as_dict()
    return out


def kind_of(entry) -> str:
    """A Dagster event log entry's event type (PIPELINE_START, STEP_START...), or 'log message'."""
    return entry.dagster_event.event_type_value if entry.dagster_event else "log message"


def load_file_statuses(warehouse: Path, run_id: str) -> dict:
    """Per entity, the files of this night's load by status (raw.load_files): on an incremental night
    yesterday's files must be `skipped_unchanged` and only the drop `loaded`."""
    import duckdb

    if not warehouse.is_file():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select entity, status, count(*) from raw.load_files where load_id = ? group by all order by all",
            [run_id],
        ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for entity, status, n in rows:
        out.setdefault(entity, {})[status] = n
    return out


def night_step_seconds(dagster_home: Path) -> dict:
    """Seconds of every finished step of the latest run in a night's Dagster home, slowest first, and
    the steps that started but did not finish (also readable after a night was stopped)."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    run = instance.get_runs(limit=1)[0]
    stats = instance.get_run_step_stats(run.run_id)
    steps = {s.step_key: round(s.end_time - s.start_time, 1) for s in stats if s.start_time and s.end_time}
    return {
        "run_id": run.run_id,
        "steps": dict(sorted(steps.items(), key=lambda kv: -kv[1])),
        "unfinished": sorted(s.step_key for s in stats if s.start_time and not s.end_time),
    }


def step_night_full(work: Path, clients: int, months: int) -> dict:
    shutil.rmtree(work / "night_full", ignore_errors=True)  # a fresh warehouse, also in a reused folder
    return _night(work, "night_full", "lz_today", AS_OF)


def step_night_yesterday(work: Path, clients: int, months: int) -> dict:
    """A fresh warehouse on yesterday's landing zone: the incremental night's starting point (also in
    a reused folder, where an earlier incremental night left its warehouse and the drop behind)."""
    shutil.rmtree(work / "night_incremental", ignore_errors=True)
    shutil.rmtree(work / "lz_incremental", ignore_errors=True)
    shutil.copytree(work / "lz_yesterday", work / "lz_incremental", copy_function=os.link)
    return _night(work, "night_incremental", "lz_incremental", YESTERDAY)


def step_night_incremental(work: Path, clients: int, months: int) -> dict:
    """Yesterday's warehouse + one day's drop: the landing zone gains the drop's files only, so the
    night's loads must skip every file of yesterday (same checksum) and read the drop alone."""
    if not (work / "night_incremental" / WAREHOUSE).is_file():
        raise SystemExit("night_incremental needs night_yesterday's warehouse: run night_yesterday first")
    shutil.copytree(work / "drop", work / "lz_incremental", copy_function=os.link, dirs_exist_ok=True)
    result = _night(work, "night_incremental", "lz_incremental", AS_OF)
    result["reads_only_the_drop"] = only_the_drop_read(result["loads"], work / "drop")
    return result


def step_night_quiet(work: Path, clients: int, months: int) -> dict:
    """The night after the incremental one with no new file in the landing zone (a day without
    exports): every load skips, only the as-of date moves. What a night costs for the date alone."""
    return _after_incremental(work, "night_quiet")


def step_night_rerun(work: Path, clients: int, months: int) -> dict:
    """night_quiet run again: the same date, no new file. What any night costs when nothing changed
    (start-up, the skip decisions, every dbt node, the checks, publication's fixed work)."""
    return _after_incremental(work, "night_rerun")


def _after_incremental(work: Path, step: str) -> dict:
    if not (work / "night_incremental" / WAREHOUSE).is_file():
        raise SystemExit(f"{step} needs night_incremental's warehouse: run night_incremental first")
    result = _night(work, "night_incremental", "lz_incremental", TOMORROW)
    result["reads_nothing"] = read_exactly(result["loads"], {})
    return result


def only_the_drop_read(loads: dict, drop: Path) -> bool:
    """Did the night read exactly the drop's files and skip every other file as unchanged?"""
    return read_exactly(loads, {p.parent.name: 1 for p in drop.glob("*/*.csv")})


def read_exactly(loads: dict, files: dict[str, int]) -> bool:
    """Did the night's loads read `files[entity]` files of each entity (none of one not named) and skip
    every other file as unchanged?"""
    return bool(loads) and all(
        statuses.get("loaded", 0) == files.get(entity, 0) and set(statuses) <= {"loaded", "skipped_unchanged"}
        for entity, statuses in loads.items()
    )


def table_hashes(warehouse: Path, schemas=("core", "marts")) -> dict[str, tuple[int, int]]:
    """(rows, order-independent content hash) of every table in `schemas`."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        names = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in (select unnest(?)) and table_type = 'BASE TABLE' order by 1",
            [list(schemas)],
        ).fetchall()
        return {
            n: tuple(conn.execute(f"select count(*), coalesce(sum(hash(t)), 0) from {n} as t").fetchone())
            for (n,) in names
        }


# marts that keep alert episodes across nights by design: a fresh warehouse has no yesterday to remember
HISTORY_BY_DESIGN = ("marts.mart_alert_history", "marts.mart_alerts")


def step_compare(work: Path, clients: int, months: int) -> dict:
    full = table_hashes(work / "night_full" / WAREHOUSE)
    inc = table_hashes(work / "night_incremental" / WAREHOUSE)
    differ = sorted(n for n in full.keys() | inc.keys() if full.get(n) != inc.get(n))
    return {
        "tables": len(full),
        "differ": [n for n in differ if n not in HISTORY_BY_DESIGN],
        "history_by_design": [n for n in differ if n in HISTORY_BY_DESIGN],
    }


# ---------------------------------------------------------------------------------------------- driver


def run_step(step: str, work: Path, clients: int, months: int, stop_at: float | None = None) -> dict:
    """Run one step in a fresh interpreter (output to work/logs/<step>.log); its result with timing.
    A step still running at `stop_at` is stopped; a stopped night is written down with its finished
    and unfinished steps (read from its Dagster home)."""
    (work / "logs").mkdir(parents=True, exist_ok=True)
    out = work / "results" / f"{step}.json"
    out.parent.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "orchestration.benchmark", "--step", step, "--work", str(work),
           "--clients", str(clients), "--months", str(months)]  # fmt: skip
    load_before = _loadavg()
    # a night runs `dbt` from PATH (orchestration/bin/dbt-child): this interpreter's, also when the
    # benchmark was started without activating its virtualenv
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    log_path = work / "logs" / f"{step}.log"
    watched = watch_process(cmd, log_path, env=env, cwd=settings.REPO_ROOT, stop_at=stop_at)
    result = step_result(watched, out, log_path, load_before)
    if watched["stopped"] and step in NIGHT_HOME:
        home = Path(_night_env(work, NIGHT_HOME[step], "")["DAGSTER_HOME"])
        result = stopped_night(result, night_step_seconds(home), stop_at)
        result.update(stopped_dbt(sorted((settings.DBT_NIGHTS_DIR / result["run_id"]).glob("**/dbt.log"))))
    elif watched["stopped"]:
        result["error"] = f"stopped by --stop-at after {watched['seconds'] / 60:.0f} min"
        if step in ("dbt", "dbt_next_day"):
            target = work / ("target" if step == "dbt" else "target_next_day")
            result.update(stopped_dbt([target / "logs" / "dbt.log"]))
    (work / "results" / f"{step}.driver.json").write_text(json.dumps(result))
    return result


# the Dagster home of each night (yesterday's night and the incremental one share a warehouse)
NIGHT_HOME = {
    "night_full": "night_full",
    "night_yesterday": "night_incremental",
    "night_incremental": "night_incremental",
    "night_quiet": "night_incremental",
    "night_rerun": "night_incremental",
}


def stopped_night(result: dict, steps: dict, stop_at: float | None) -> dict:
    """A night stopped at `stop_at`: written down like a finished one (its wall time up to the stop,
    its finished steps' seconds, the unfinished ones), marked STOPPED."""
    hour = dt.datetime.fromtimestamp(stop_at or time.time(), dt.UTC).strftime("%H:%M UTC")
    return {
        "success": False,
        "stopped": f"stopped by the benchmark's --stop-at at {hour} after {result['seconds'] / 60:.0f} min",
        "night_seconds": result["seconds"],
        **steps,
        **{
            k: result[k]
            for k in ("peak_rss_mb", "child_peak_rss_mb", "load_before", "load_after")
            if k in result
        },
    }


def step_result(watched: dict, out: Path, log_path: Path, load_before: list[float]) -> dict:
    """A step's result: what it wrote itself, plus what its parent polled (its descendants' peak, e.g.
    a process the step spawned); for a failed step, the polled wall time and peaks up to its end."""
    if watched["returncode"] != 0 or not out.exists():
        return {
            "error": f"exit {watched['returncode']}, see {log_path}",
            "load_before": load_before,
            "load_after": _loadavg(),
            **{k: watched[k] for k in ("seconds", "peak_rss_mb", "child_peak_rss_mb")},
        }
    result = json.loads(out.read_text())
    if watched["child_peak_rss_mb"] and "child_peak_rss_mb" not in result:
        result["child_peak_rss_mb"] = watched["child_peak_rss_mb"]
    result.update(load_before=load_before, load_after=_loadavg())
    return result


def _machine() -> dict:
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")), platform.machine(),
    )  # fmt: skip
    mem = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem.split()[1]) / 2**20),
        "python": platform.python_version(),
    }


def _mb(r: dict) -> str:
    return str(r.get("peak_rss_mb", "")) if r else ""


def _s(r: dict | None, key: str = "seconds") -> str:
    if not r:
        return "not run"
    if "error" in r:
        return f"failed after {r['seconds']}" if "seconds" in r else "failed"
    return str(r.get(key, ""))


def render_markdown(all_results: dict) -> str:
    lines = [
        "# Benchmarks",
        "",
        "`make benchmark` (`python -m orchestration.benchmark --clients N ...`). Each step runs in its own "
        "process; seconds are wall clock, peak RSS is the process's VmHWM (a Dagster night also reports "
        "the largest VmHWM among its child processes, i.e. the dbt subprocess, and each of its steps' "
        "own peak, its high-water mark reset at the step's start, in the breakdown below; the target "
        "is judged on the nights' steps, the demo-data generator is reported apart). The machine is shared "
        "by several developers: the 1-minute load average before and after each step is written down, "
        "and times taken at a load above the core count are inflated.",
        "",
        "Steps: **generate** the demo firm (36 months unless stated); **load** every entity of the generated "
        "exports; **dbt** = one `dbt build` of every model and test; **floor** = the same compiled SQL "
        "(target/run/**, the SQL models) executed directly in DuckDB in the order dbt ran it; "
        "**ml** = the renewal model alone, outside dbt (the dbt step builds it too, as Python models); "
        "**quality** = every GX suite of the gate; **publish** = publication alone (snapshot, every page, "
        "manifest) of the dbt step's warehouse. **Nights** run the "
        "real `nightly` Dagster job (load → dbt with the renewal model's Python models → quality gate → "
        "publication with pages): "
        "**full** = fresh warehouse, every file; **incremental** = yesterday's warehouse (a full night as of "
        f"{YESTERDAY}) plus one day's drop (the rows updated on {AS_OF}), as of {AS_OF}; **compare** = every "
        "core and marts table of the incremental warehouse hashed against the full night's; **quiet** = the "
        f"next night on that warehouse with no new file (only the date moves, to {TOMORROW}); **rerun** = "
        "that night again (nothing new, the same date): what any night pays. Under each size, "
        "where each night's wall and CPU seconds went (start-up, Dagster, every step, the loader's and "
        "publication's phases, each dbt invocation) and which files its loads read or skipped.",
        "",
        f"Targets (issue 15): whole night ≤ {TARGETS['night_s'] // 60} min at 100,000 clients × 36 months, "
        f"peak RSS of any step ≤ {TARGETS['peak_mb'] // 1024} GB, incremental night ≤ "
        f"{TARGETS['incremental_share']:.0%} of the full night, dbt ÷ bare SQL ≤ {TARGETS['overhead']}×.",
        "",
    ]
    for size in sorted(all_results, key=int):
        res = all_results[size]
        st = res["steps"]
        m = res["machine"]
        rows = (st.get("generate") or {}).get("rows", {})
        lines += [
            f"## {int(size):,} clients × {res['months']} months",
            "",
            f"Recorded {res['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
            f"Python {m['python']}; "
            f"`uptime` at start: {res['uptime_start']}; at end: {res.get('uptime_end', '(not finished)')}"
            + (
                f"; steps re-run later from the same files at: {res['uptime_resumed']}"
                if res.get("uptime_resumed")
                else ""
            )
            + ".",
            "",
            f"Rows (unique keys): tasks {rows.get('tasks', '?'):,}, invoices {rows.get('invoices', '?'):,}, "
            f"payments {rows.get('payments', '?'):,}, clients {rows.get('clients', '?'):,}."
            if rows
            else "",
            "",
            "| step | seconds | CPU s | peak RSS MB | load before → after | notes |",
            "|---|---|---|---|---|---|",
        ]
        for step in STEPS + NIGHTS:
            r = st.get(step)
            load = ""
            if r and "load_before" in r:
                load = f"{r['load_before'][0]} → {r.get('load_after', ['?'])[0]}"
            note = _note(step, r)
            secs = _s(r, "night_seconds" if step.startswith("night") else "seconds")
            cpu = (r or {}).get("cpu_seconds", "")
            lines.append(f"| {step} | {secs} | {cpu} | {_mb(r)} | {load} | {note} |")
        lines += ["", *_verdicts(res), "", *render_breakdowns(st)]
    return "\n".join(lines) + "\n"


def breakdown_rows(night: dict) -> list[tuple[str, dict]]:
    """A night's breakdown as (part, {seconds, cpu_seconds}) rows in the night's order: start-up,
    run start, the loads (summed, then the loader's phases), each dbt step, the other steps,
    publication (then its timed stages), Dagster between steps, after the last step."""
    b = night.get("breakdown") or {}
    steps, phases = b.get("steps", {}), b.get("phases", {})

    def total(parts) -> dict:
        parts = list(parts)
        out = {k: round(sum(p.get(k, 0.0) for p in parts), 1) for k in ("seconds", "cpu_seconds")}
        for k in ("peak_rss_mb", "child_peak_rss_mb"):
            if any(k in p for p in parts):
                out[k] = max(p.get(k, 0) for p in parts)
        return out

    rows = [
        ("start-up (import Dagster, definitions)", b.get("start-up", {})),
        ("Dagster: resolve the job, plan the run", b.get("Dagster: resolve the job, plan the run", {})),
        ("run start (resources, until the first step)", b.get("run start (until the first step)", {})),
    ]
    loads = {k: v for k, v in steps.items() if k.startswith("raw__")}
    if loads:
        rows.append((f"loads ({len(loads)} entities)", total(loads.values())))
        rows += [(f"  {k}", v) for k, v in phases.items() if k.startswith("load:")]
    invocations = iter(b.get("dbt", []))
    for key, value in steps.items():
        if key.startswith("raw__"):
            continue
        rows.append((key, value))
        if key.startswith("dbt_models") and (dbt := next(invocations, None)):
            rows += dbt_rows(key, dbt, value.get("seconds", 0.0))
        if key == "reports__published":
            rows += [(f"  {k}", v) for k, v in phases.items() if k.startswith("publish:")]
    rows.append(("Dagster between steps", b.get("between steps", {})))
    rows.append(("after the last step (run end, alerts)", b.get("after the last step (run end, alerts)", {})))
    rows += [(f"  {k}", v) for k, v in phases.items() if k.startswith("after the run:")]
    return rows


DBT_FIXED = ("start", "parse", "plan", "end")  # a dbt invocation's phases outside its nodes


def dbt_rows(step: str, dbt: dict, step_seconds: float) -> list[tuple[str, dict]]:
    """A dbt step's invocation (wall seconds, from dbt's log): outside its nodes (start-up, parse,
    plan, artifacts), its nodes, and what is left of the step around dbt (dagster-dbt: starting the
    process, turning dbt's events into Dagster's)."""
    fixed = sum(dbt[k] for k in DBT_FIXED)
    return [
        (f"  {step}: dbt start-up, parse, plan, artifacts", {"seconds": round(fixed, 1)}),
        (f"  {step}: dbt nodes", {"seconds": dbt["run"]}),
        (f"  {step}: dagster-dbt around dbt", {"seconds": round(step_seconds - fixed - dbt["run"], 1)}),
    ]


def breakdown_cell(v: dict | None) -> str:
    """`wall / CPU` seconds of a part of a night, then its peak RSS in the night's process and, when
    it started any, its child processes' (a dbt step's dbt), where measured."""
    if not v:
        return ""
    text = f"{v.get('seconds', '')} / {v.get('cpu_seconds', '–')}"
    if "peak_rss_mb" in v:
        text += f" / {v['peak_rss_mb']} MB"
    if v.get("child_peak_rss_mb"):
        text += f" (child {v['child_peak_rss_mb']} MB)"
    return text


def render_breakdowns(st: dict) -> list[str]:
    """Table: each night's parts (rows) × nights (wall / CPU seconds), for the nights that have one."""
    nights = [n for n in NIGHT_HOME if (st.get(n) or {}).get("breakdown")]
    if not nights:
        return []
    by_night = {n: dict(breakdown_rows(st[n])) for n in nights}
    parts: list[str] = []
    for n in nights:
        parts += [p for p, _ in breakdown_rows(st[n]) if p not in parts]
    lines = ["Where each night's time went (wall s / CPU s of the night's process and its dbt child; "
             "then, where measured, the part's own peak RSS in the night's process — its high-water mark "
             "reset at the part's start — and its child processes' peak, e.g. the dbt subprocess; "
             "indented rows are parts of the row above):", "",
             "| part | " + " | ".join(nights) + " |", "|---|" + "---|" * len(nights)]  # fmt: skip
    for part in parts:
        cells = []
        for n in nights:
            v = by_night[n].get(part)
            cells.append(breakdown_cell(v))
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    whole = [f"{st[n]['night_seconds']} / {st[n].get('cpu_seconds', '')}" for n in nights]
    lines.append("| **whole night** | " + " | ".join(whole) + " |")
    loads = [(n, st[n].get("loads")) for n in nights if st[n].get("loads")]
    lines += ["", *[f"- {n}: files by status per entity (raw.load_files): "
                    + "; ".join(f"{e} {', '.join(f'{k} {c}' for k, c in v.items())}" for e, v in ld.items())
                    for n, ld in loads]]  # fmt: skip
    if "reads_only_the_drop" in st.get("night_incremental", {}):
        ok = st["night_incremental"]["reads_only_the_drop"]
        lines.append(
            "- The incremental night read only the drop and skipped every file of yesterday: "
            + ("yes." if ok else "**NO** — it re-read files it had loaded (see the statuses above).")
        )
    return [*lines, ""]


def _note(step: str, r: dict | None) -> str:
    text = _step_note(step, r)
    if r and r.get("child_peak_rss_mb") and not step.startswith("night"):
        text += f"{'; ' if text else ''}its child processes' peak {r['child_peak_rss_mb']} MB"
    return text


def _step_note(step: str, r: dict | None) -> str:
    if r and "nodes_finished" in r:  # a dbt stopped by --stop-at, or a night stopped in a dbt step
        slow = ", ".join(f"{n} {s}" for n, s in r["slowest_finished"][:6])
        before = f"dbt before the stop: {r['nodes_finished']} nodes finished, slowest {slow}"
        return f"{_step_note(step, {k: v for k, v in r.items() if k != 'nodes_finished'})}; {before}"
    if not r or "error" in r:
        return (r or {}).get("error", "")
    if step == "load" and "entities" in r:
        per = ", ".join(f"{e} {v['seconds']} s" for e, v in r["entities"].items() if v["seconds"] >= 0.5)
        rss = " → ".join(str(v["peak_rss_mb"]) for v in r["entities"].values())
        return f"DuckDB memory_limit {r['memory_limit']}; {per}; VmHWM after each entity {rss} MB"
    if step in ("dbt", "dbt_next_day"):
        slow = ", ".join(f"{n} {s}" for n, s in r.get("slowest", [])[:5])
        text = f"{r['nodes']} nodes; node time {r.get('node_seconds', {})}; slowest: {slow}"
        if "phases" in r:
            text += f"; wall phases {r['phases']}; thread-seconds per node kind {r['thread_seconds']}"
        if "rule_model_seconds" in r:
            text += f"; the 4 payment-rule models {r['rule_model_seconds']} s"
        if "dbt_seconds" in r:
            text += f"; dbt alone {r['dbt_seconds']} s (copy excluded)"
        return text
    if step == "floor":
        return f"{r['statements']} statements; SQL seconds {r['sql_seconds']}"
    if step == "publish":
        text = (
            f"publication alone {r['publish_seconds']} s: {r['html_pages']:,} HTML pages, "
            f"{r['other_page_files']:,} other page files, {r['mb']} MB"
        )
        stages = [
            f"{k.removeprefix('publish: ')} {v['seconds']} s / {v['peak_rss_mb']} MB"
            for k, v in (r.get("stages") or {}).items()
            if "peak_rss_mb" in v and v["seconds"] >= 0.1
        ]
        return text + (f"; per stage wall / own peak RSS: {', '.join(stages)}" if stages else "")
    if step == "quality":
        return f"{r['checks']} checks; failed: {', '.join(r['failed']) or 'none'}"
    if step == "split":
        return "drop rows: " + ", ".join(f"{e} {n}" for e, n in r["drop_rows"].items() if n)
    if step.startswith("night"):
        top = ", ".join(f"{k} {v}" for k, v in list(r["steps"].items())[:6])
        state = "green" if r["success"] else f"STOPPED ({r['stopped']})" if "stopped" in r else "FAILED"
        if r.get("unfinished"):
            state += f"; unfinished: {', '.join(r['unfinished'])}"
        peak = f"dbt child peak {r['child_peak_rss_mb']} MB; " if "child_peak_rss_mb" in r else ""
        return f"{state}; {peak}slowest steps: {top}"
    if step == "compare":
        text = f"{r['tables']} tables; differ: {', '.join(r['differ']) or 'none (identical)'}"
        if r.get("history_by_design"):
            text += f"; alert history kept across nights by design: {', '.join(r['history_by_design'])}"
        return text
    return ""


def _verdicts(res: dict) -> list[str]:
    st = res["steps"]
    out = []
    full = (st.get("night_full") or {}).get("night_seconds")
    inc = (st.get("night_incremental") or {}).get("night_seconds")
    if full:
        state = (
            ""
            if st["night_full"].get("success")
            else " — the run did not finish (see its notes), time up to where it stopped"
        )
        out.append(
            f"- Full night: {full / 60:.1f} min (target ≤ {TARGETS['night_s'] // 60} min at 100k){state}."
        )
    # the share is taken against the full night of the same run when there is one: night_yesterday is a
    # full night (fresh warehouse, every file, one day earlier) run just before the incremental night, by
    # the same code at about the same load; a night_full row may be older (another commit, another load)
    yday = st.get("night_yesterday") or {}
    paired = bool(yday.get("night_seconds") and yday.get("success"))
    if paired:
        out.append(
            f"- Full night of the incremental pair (night_yesterday, as of the day before): "
            f"{yday['night_seconds'] / 60:.1f} min (target ≤ {TARGETS['night_s'] // 60} min at 100k)."
        )
    ref_name, ref = (
        ("the same run's full night (night_yesterday)", yday)
        if paired
        else ("the full night", st.get("night_full") or {})
    )
    if (ref_s := ref.get("night_seconds")) and inc:
        share = inc / ref_s
        ok = "meets" if share <= TARGETS["incremental_share"] else "misses"
        text = f"- Incremental night: {inc / 60:.1f} min = {share:.0%} of {ref_name} ({ok} ≤ 20 %)"
        cpu_full, cpu_inc = ref.get("cpu_seconds"), st["night_incremental"].get("cpu_seconds")
        if cpu_full and cpu_inc:
            text += f"; in CPU seconds {cpu_inc} ÷ {cpu_full} = {cpu_inc / cpu_full:.0%}"
        out.append(text + ".")
    if ref_s := ref.get("night_seconds"):
        out += quiet_night_verdicts(st, ref_s, ref_name)
    out += peak_verdicts(st)
    nxt = (st.get("dbt_next_day") or {}).get("dbt_seconds")
    if nxt and (st.get("dbt") or {}).get("seconds"):
        full_dbt, rule = st["dbt"], st["dbt_next_day"].get("rule_model_seconds")
        out.append(
            f"- dbt on the next night (incremental rule): {nxt} s = "
            f"{nxt / full_dbt['seconds']:.0%} of the full "
            f"build's {full_dbt['seconds']} s; the 4 payment-rule models {rule} s of node time against "
            f"{full_dbt.get('rule_model_seconds', '?')} s in the full build."
        )
    if text := overhead_verdict(st.get("dbt") or {}, st.get("floor") or {}):
        out.append(text)
    return out


def overhead_verdict(dbt: dict, floor: dict) -> str:
    """dbt build ÷ the same work without dbt: the floor's SQL plus, when the floor timed them, the two
    Python models dbt also runs (`python_seconds`; older floors had none, so their ratio charged the
    renewal model's fits to dbt). Wall seconds, the ratio without the parse, and CPU seconds."""
    dbt_s = dbt.get("seconds")
    if not (dbt_s and floor.get("sql_seconds")):
        return ""
    sql = sum(floor["sql_seconds"].values())
    python = floor.get("python_seconds")
    bare = sql + (python or 0)
    ratio = dbt_s / bare if bare else float("inf")
    ok = "meets" if ratio <= TARGETS["overhead"] else "misses"
    if python is None:
        text = f"- Orchestration overhead: dbt build {dbt_s} s ÷ bare SQL {bare:.1f} s = {ratio:.2f}×"
    else:
        text = (
            f"- Orchestration overhead: dbt build {dbt_s} s ÷ (bare SQL {sql:.1f} s + its Python models run "
            f"directly {python:.1f} s) = {ratio:.2f}×"
        )
    text += f" ({ok} ≤ {TARGETS['overhead']}×)"
    if parse := dbt.get("phases", {}).get("parse"):
        text += (
            f"; {parse} s of it parsing the project (a night parses once for its dbt steps): "
            f"{(dbt_s - parse) / bare:.2f}× without it"
        )
    if python is not None and sql:
        text += f"; against the SQL alone {dbt_s / sql:.2f}×"
    if dbt.get("cpu_seconds") and floor.get("cpu_seconds"):
        cpu_dbt, cpu_floor = dbt["cpu_seconds"], floor["cpu_seconds"]
        text += (
            f"; in CPU seconds, which the shared machine's load hardly inflates: dbt {cpu_dbt} ÷ "
            f"bare {cpu_floor} = {cpu_dbt / cpu_floor:.2f}×"
        )
    return text + "."


def quiet_night_verdicts(st: dict, ref_s: float, ref_name: str) -> list[str]:
    """night_quiet and night_rerun against the full night, and the incremental night split by them:
    what any night pays (the rerun), what the date's move adds (quiet - rerun), what the drop's rows
    add (incremental - quiet). Approximate: the two run a day after the incremental night."""
    green = {
        n: st[n]
        for n in ("night_quiet", "night_rerun", "night_incremental")
        if (st.get(n) or {}).get("success")
    }
    out = []
    for name, what in (("night_quiet", f"no new file, only the date moved to {TOMORROW}"),
                       ("night_rerun", "the same night again: nothing new, the same date")):  # fmt: skip
        if name in green:
            s = green[name]["night_seconds"]
            text = f"- {name} ({what}): {s / 60:.1f} min = {s / ref_s:.0%} of {ref_name}"
            if not green[name].get("reads_nothing", True):
                text += " — **its loads read files** (see the statuses below)"
            out.append(text + ".")
    if len(green) == 3:
        quiet, rerun, inc = (
            green[n]["night_seconds"] for n in ("night_quiet", "night_rerun", "night_incremental")
        )
        out.append(
            f"- The incremental night's {inc} s, split by those two (approximately: they run a day later): "
            f"{rerun} s that a night pays when nothing changed, {quiet - rerun:.1f} s for the date's move, "
            f"{inc - quiet:.1f} s for the drop's rows; {TARGETS['incremental_share']:.0%} of {ref_name} is "
            f"{ref_s * TARGETS['incremental_share']:.1f} s."
        )
    return out


def peak_verdicts(st: dict) -> list[str]:
    """Peak RSS against the target: the nights' steps (each measured on its own, in the night's
    process and in its children, e.g. dbt), else the night processes as a whole; the standalone steps
    other than `generate` and `split`; those two apart (they make the benchmark's data, no night runs
    them)."""
    ok = lambda mb: "meets" if mb <= TARGETS["peak_mb"] else "misses"  # noqa: E731
    out, per_step, whole = [], [], []
    for night in NIGHT_HOME:
        r = st.get(night) or {}
        whole += [(max(r.get("peak_rss_mb", 0), r.get("child_peak_rss_mb", 0)), night)] if r else []
        for key, part in ((r.get("breakdown") or {}).get("steps") or {}).items():
            if "peak_rss_mb" in part:
                per_step.append((part["peak_rss_mb"], f"{night} {key}"))
            if part.get("child_peak_rss_mb"):
                per_step.append((part["child_peak_rss_mb"], f"{night} {key}, its child process"))
    if per_step:
        mb, where = max(per_step)
        out.append(f"- Largest peak RSS of any night step: {mb} MB ({where}; {ok(mb)} ≤ 4 GB).")
    elif whole:
        mb, where = max(whole)
        out.append(
            f"- Largest peak RSS of a night process (its steps not measured apart): {mb} MB ({where}; "
            f"{ok(mb)} ≤ 4 GB)."
        )
    alone = [
        (max(r.get("peak_rss_mb", 0), r.get("child_peak_rss_mb", 0)), step)
        for step, r in st.items()
        if step in STEPS and step not in ("generate", "split", "floor") and r and "error" not in r
    ]
    if alone:
        mb, where = max(alone)
        out.append(f"- Largest peak RSS of a standalone step: {mb} MB ({where}; {ok(mb)} ≤ 4 GB).")
    if (floor := st.get("floor")) and "error" not in floor and floor.get("peak_rss_mb"):
        limit = floor.get("memory_limit") or "no memory limit (recorded before the floor took dbt's)"
        out.append(
            f"- The bare-SQL floor (a measurement, not a night step; DuckDB {limit}): "
            f"{floor['peak_rss_mb']} MB peak RSS."
        )
    if (gen := st.get("generate")) and "error" not in gen:
        out.append(
            f"- The demo-data generator (`generate`, not a night step): {gen.get('peak_rss_mb')} MB peak RSS."
        )
    if (split := st.get("split")) and "error" not in split:  # DuckDB's default limit: 80 % of RAM
        out.append(
            f"- The benchmark's split of the loaded rows into yesterday's files and the drop (`split`, not a "
            f"night step): {split.get('peak_rss_mb')} MB peak RSS."
        )
    return out


def stop_instant(hhmm: str) -> float:
    """`HH:MM` (UTC) as a time.time() instant: the one within 12 hours of now, i.e. today's, tomorrow's
    if that hour has passed today by more than 12 hours (a run started late in the evening for the
    small hours), yesterday's if it is more than 12 hours ahead (just after midnight, 23:00 has passed)."""
    now = dt.datetime.now(dt.UTC)
    hour, minute = (int(x) for x in hhmm.split(":"))
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if now - at > dt.timedelta(hours=12):
        at += dt.timedelta(days=1)
    elif at - now > dt.timedelta(hours=12):  # just after midnight, an hour of yesterday evening: passed
        at -= dt.timedelta(days=1)
    return at.timestamp()


def save_results(path: Path, size: str, entry: dict, step: str | None = None) -> dict:
    """Write one size's entry into the results file as it is on disk now: another benchmark process
    may have written other steps (or sizes) meanwhile, e.g. a night run beside the standalone steps in
    the same work folder. Only `step`'s result and the entry's own fields are taken from `entry`."""
    stored = json.loads(path.read_text()) if path.exists() else {}
    on_disk = stored.get(size, {})
    if on_disk.get("work") != entry.get("work"):  # a new run of this size replaces the old one
        on_disk = {"steps": entry["steps"]}
    steps = {**on_disk["steps"], **({step: entry["steps"][step]} if step else {})}
    stored[size] = {**on_disk, **{k: v for k, v in entry.items() if k != "steps"}, "steps": steps}
    path.write_text(json.dumps(stored, indent=1, ensure_ascii=False) + "\n")
    return stored


NOTES_MARKER = "<!-- hand-written notes below: kept when the tables above are regenerated -->"


def write_markdown(path: Path, stored: dict) -> None:
    """The generated tables, then the hand-written reading of them kept from the existing file."""
    notes = ""
    if path.exists() and NOTES_MARKER in (old := path.read_text(encoding="utf-8")):
        notes = old[old.index(NOTES_MARKER) + len(NOTES_MARKER) :]
    path.write_text(render_markdown(stored) + "\n" + NOTES_MARKER + (notes or "\n"), encoding="utf-8")


def new_entry(work: Path, months: int, uptime: str) -> dict:
    return {
        "months": months,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "uptime_start": uptime,
        "work": str(work),
        "steps": {},
    }


def reused_entry(work: Path, stored: dict | None, months: int, uptime: str) -> dict:
    """The results entry a `--reuse` of kept folder `work` adds to: the stored one of that folder, else
    (a results file without it, e.g. another checkout's) one rebuilt from the step results the folder
    keeps itself (results/<step>.driver.json, written by every run of a step)."""
    if stored and Path(stored.get("work", "")).resolve() == work.resolve():
        return stored
    entry = new_entry(work, months, uptime)
    kept = [work / "results" / f"{step}.driver.json" for step in ALL]
    for step, path in zip(ALL, kept, strict=True):
        if path.is_file():
            entry["steps"][step] = json.loads(path.read_text())
    if first := min((p.stat().st_mtime for p in kept if p.is_file()), default=None):
        entry["date"] = dt.datetime.fromtimestamp(first, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        entry["uptime_start"] = "(rebuilt from the kept folder's step results; date: the first step's end)"
    return entry


def preflight(steps: list[str]) -> None:
    """Fail before hours of work, not at the end of a night: a night publishes pages, which need the
    vendored ECharts/SSF bundle (`make setup` runs `npm ci` for it) and the parsed dbt manifest."""
    from orchestration.render import site

    missing = []
    if any(s.startswith("night") for s in steps):
        missing += [str(p) for p in (site.ECHARTS, site.SSF) if not p.is_file()]
    if not (settings.DBT_PROJECT_DIR / "target" / "manifest.json").is_file():
        missing.append(str(settings.DBT_PROJECT_DIR / "target" / "manifest.json"))
    if missing:
        raise SystemExit(f"checkout incomplete (run `make setup` first): missing {', '.join(missing)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[800, 10000])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--steps", nargs="+", choices=ALL, default=list(ALL), help="subset, in this order")
    parser.add_argument("--out", type=Path, default=settings.REPO_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--work-root", type=Path, default=None, help="parent of the work folders")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument(
        "--reuse", type=Path, default=None,
        help="run --steps in this kept work folder (one size), keeping the stored results of the others",
    )  # fmt: skip
    parser.add_argument(
        "--stop-at", type=stop_instant, default=None, metavar="HH:MM",
        help="UTC hour at which a still running step is stopped (a night is written down as STOPPED with "
        "its finished steps) and no further step starts, e.g. to hand the shared machine back",
    )  # fmt: skip
    parser.add_argument("--step", choices=ALL, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        t = time.perf_counter()
        result = globals()[f"step_{args.step}"](args.work, args.clients[0], args.months)
        result.update(
            seconds=round(time.perf_counter() - t, 1),
            cpu_seconds=_cpu_seconds(),
            peak_rss_mb=PEAKS.process_peak_mb(),
        )
        (args.work / "results" / f"{args.step}.json").write_text(json.dumps(result))
        return 0

    preflight(args.steps)
    results_json = args.out.with_suffix(".json")
    stored = json.loads(results_json.read_text()) if results_json.exists() else {}
    for n in [] if args.stop_at and time.time() >= args.stop_at else args.clients:
        uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        if args.reuse:
            work, entry = args.reuse, reused_entry(args.reuse, stored.get(str(n)), args.months, uptime)
            entry["uptime_resumed"] = uptime
        else:
            work = Path(tempfile.mkdtemp(prefix=f"bench{n}_", dir=args.work_root))
            entry = new_entry(work, args.months, uptime)
        stored[str(n)] = entry
        for step in [s for s in ALL if s in args.steps]:
            if args.stop_at and time.time() >= args.stop_at:
                print(f"[{n}] {step}: not started (--stop-at)", file=sys.stderr, flush=True)
                continue
            print(f"[{n}] {step} ...", file=sys.stderr, flush=True)
            entry["steps"][step] = run_step(step, work, n, args.months, args.stop_at)
            print(f"[{n}] {step}: {json.dumps(entry['steps'][step])[:400]}", file=sys.stderr, flush=True)
            stored = save_results(results_json, str(n), entry, step)
            write_markdown(args.out, stored)
        entry["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        stored = save_results(results_json, str(n), entry)
        write_markdown(args.out, stored)
        if not (args.keep or args.reuse):
            shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
