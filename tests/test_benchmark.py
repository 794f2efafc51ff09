"""The benchmark's reading of a dbt debug log (where dbt's time goes beside the SQL it runs)."""

import datetime as dt

import pytest

from orchestration.benchmark import dbt_log_breakdown

E = "\x1b[0m"
LOG = f"""

============================== 10:00:00.000000 | 1234 ==============================
{E}10:00:00.000000 [info ] [MainThread]: Running with dbt=1.11.16
{E}10:00:01.500000 [info ] [MainThread]: Unable to do partial parsing because saved manifest not found.
{E}10:00:13.500000 [info ] [MainThread]: Found 2 models, 1 data test, 523 macros
{E}10:00:14.000000 [debug] [Thread-1 (]: Began running node model.p.a
{E}10:00:14.100000 [debug] [Thread-1 (]: On model.p.a: /* {{"app": "dbt"}} */
    create table "w"."core"."a__dbt_tmp" as (select 1)
{E}10:00:16.100000 [debug] [Thread-1 (]: SQL status: OK in 2.000 seconds
{E}10:00:14.200000 [debug] [Thread-2 (]: Began running node model.p.b
{E}10:00:15.200000 [debug] [Thread-2 (]: SQL status: OK in 0.500 seconds
{E}10:00:16.200000 [debug] [Thread-2 (]: Finished running node model.p.b
{E}10:00:16.500000 [debug] [Thread-1 (]: SQL status: OK in 0.250 seconds
{E}10:00:17.000000 [debug] [Thread-1 (]: Finished running node model.p.a
{E}10:00:17.000000 [debug] [Thread-2 (]: Began running node test.p.not_null_a_x.abc
{E}10:00:17.500000 [debug] [Thread-2 (]: SQL status: OK in 0.100 seconds
{E}10:00:18.000000 [debug] [Thread-2 (]: Finished running node test.p.not_null_a_x.abc
{E}10:00:20.000000 [debug] [MainThread]: Command `cli build` succeeded at 10:00:20 after 20.00 seconds
"""


def test_dbt_log_breakdown_splits_wall_phases_and_node_time(tmp_path):
    log = tmp_path / "dbt.log"
    log.write_text(LOG, encoding="utf-8")
    assert dbt_log_breakdown(log) == {
        # 0 -> 1.5 start, 1.5 -> 13.5 parse, first node 14.0 -> last finished 18.0, then 2 s to the end
        "phases": {"start": 1.5, "parse": 12.0, "run": 4.0, "end": 2.0},
        "plan": 0.5,
        # model a 3.0 s (SQL 2.25), model b 2.0 s (SQL 0.5): 5.0 s of which 2.75 SQL; test 1.0 s, 0.1 SQL
        "thread_seconds": {
            "model": {"sql": 2.8, "python": 2.2},
            "test": {"sql": 0.1, "python": 0.9},
        },
    }


def test_dbt_log_breakdown_of_a_log_without_a_run_is_empty(tmp_path):
    log = tmp_path / "dbt.log"
    log.write_text(LOG.split("Began running")[0].rsplit("\n", 1)[0], encoding="utf-8")
    assert dbt_log_breakdown(log) == {}


# ------------------------------------------------------------------ memory of a step, polled from outside

# allocates (and touches) `own` MB, starts a child that allocates `kid` MB, holds both, exits with `code`
ALLOCATE = """
import subprocess, sys, time
own, kid, code = (int(a) for a in sys.argv[1:4])
block = b"x" * (own << 20)
if kid:
    subprocess.run([sys.executable, "-c", f"import time; b = b'y' * ({kid} << 20); time.sleep(1.5)"])
time.sleep(1.0)
sys.exit(code)
"""


def _allocate(tmp_path, own: int, kid: int, code: int) -> dict:
    import sys

    from orchestration.benchmark import watch_process

    cmd = [sys.executable, "-c", ALLOCATE, str(own), str(kid), str(code)]
    return watch_process(cmd, tmp_path / "step.log")


def test_watch_process_reports_the_step_peak_and_its_childrens_peak_separately(tmp_path):
    watched = _allocate(tmp_path, own=240, kid=120, code=0)
    assert watched["returncode"] == 0
    assert watched["seconds"] >= 2.5  # the child's 1.5 s, then the parent's 1.0 s
    # the interpreter itself adds ~10-30 MB to each allocation
    assert 240 <= watched["peak_rss_mb"] < 240 + 60
    assert 120 <= watched["child_peak_rss_mb"] < 120 + 60


def test_a_failed_step_keeps_its_polled_time_and_peak(tmp_path):
    from orchestration.benchmark import _note, _s, step_result

    watched = _allocate(tmp_path, own=160, kid=0, code=3)
    result = step_result(watched, tmp_path / "never_written.json", tmp_path / "step.log", [1.0, 1.0, 1.0])
    assert result["error"] == f"exit 3, see {tmp_path / 'step.log'}"
    assert 160 <= result["peak_rss_mb"] < 160 + 60
    assert result["child_peak_rss_mb"] == 0
    assert _s(result) == f"failed after {watched['seconds']}"
    assert _note("generate", result) == result["error"]


def test_a_steps_own_result_is_kept_and_the_polled_child_peak_added(tmp_path):
    import json

    from orchestration.benchmark import _note, step_result

    out = tmp_path / "load.json"
    out.write_text(json.dumps({"seconds": 9.0, "peak_rss_mb": 700}))
    watched = {"returncode": 0, "seconds": 10.0, "peak_rss_mb": 690, "child_peak_rss_mb": 300}
    result = step_result(watched, out, tmp_path / "log", [2.0, 0, 0])
    # the step's own timing and VmHWM win over the parent's polled ones (which include the start-up)
    assert (result["seconds"], result["peak_rss_mb"], result["child_peak_rss_mb"]) == (9.0, 700, 300)
    assert _note("ml", result) == "its child processes' peak 300 MB"
    # a night measures its dbt child itself; the parent's poll does not overwrite it
    out.write_text(json.dumps({"seconds": 9.0, "peak_rss_mb": 700, "child_peak_rss_mb": 1300}))
    assert step_result(watched, out, tmp_path / "log", [2.0, 0, 0])["child_peak_rss_mb"] == 1300


def test_the_load_step_uses_the_nights_loader_options(tmp_path, monkeypatch):
    from orchestration.benchmark import _note, night_load_options

    monkeypatch.delenv("OPSCENTER_LOAD_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("OPSCENTER_LOAD_TEMP_DIR", raising=False)
    options = night_load_options(tmp_path / "warehouse.duckdb")
    assert (options.memory_limit, options.temp_dir) == ("2GB", str(tmp_path / "warehouse.load_tmp"))
    assert options.settle_seconds == 0
    monkeypatch.setenv("OPSCENTER_LOAD_MEMORY_LIMIT", "3GB")
    assert night_load_options(tmp_path / "warehouse.duckdb").memory_limit == "3GB"
    entities = {
        "clients": {"seconds": 0.2, "peak_rss_mb": 150},
        "tasks": {"seconds": 12.5, "peak_rss_mb": 900},
    }
    assert _note("load", {"memory_limit": "2GB", "entities": entities}) == (
        "DuckDB memory_limit 2GB; tasks 12.5 s; VmHWM after each entity 150 → 900 MB"
    )


# ------------------------------------------------------------------ stopping a run at a given hour

# starts a grandchild that writes its pid and sleeps; both would run for a minute
SLEEPERS = """
import subprocess, sys, time
kid = f"import os, time; open({sys.argv[1]!r}, 'w').write(str(os.getpid())); time.sleep(60)"
subprocess.Popen([sys.executable, "-c", kid])
time.sleep(60)
"""


def test_a_step_running_at_stop_at_is_stopped_with_everything_it_started(tmp_path):
    import sys
    import time

    from orchestration.benchmark import watch_process

    pid_file = tmp_path / "grandchild.pid"
    started = time.time()
    watched = watch_process(
        [sys.executable, "-c", SLEEPERS, str(pid_file)], tmp_path / "log", stop_at=started + 2
    )
    assert watched["stopped"] is True
    assert watched["returncode"] == -15  # SIGTERM, within the grace period
    assert 2 <= watched["seconds"] < 30
    grandchild = int(pid_file.read_text())
    time.sleep(0.2)
    state = ""
    try:  # gone, or at most a zombie not yet reaped by init
        state = open(f"/proc/{grandchild}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        pass
    assert state in ("", "Z")
    assert not watch_process([sys.executable, "-c", "pass"], tmp_path / "log2", stop_at=time.time() + 60)[
        "stopped"
    ]


def test_a_stopped_night_is_written_down_with_its_finished_and_unfinished_steps():
    import datetime as dt

    from orchestration.benchmark import _note, _verdicts, stopped_night

    stop = dt.datetime(2026, 11, 30, 19, 5, tzinfo=dt.UTC).timestamp()
    polled = {"error": "exit -15", "seconds": 1920.0, "peak_rss_mb": 2100, "child_peak_rss_mb": 3300,
              "load_before": [5.0, 0, 0], "load_after": [6.0, 0, 0]}  # fmt: skip
    steps = {"steps": {"dbt_models": 900.0, "raw__tasks": 400.0}, "unfinished": ["dbt_models_2"]}
    night = stopped_night(polled, steps, stop)
    assert night == {
        "success": False,
        "stopped": "stopped by the benchmark's --stop-at at 19:05 UTC after 32 min",
        "night_seconds": 1920.0,
        "steps": {"dbt_models": 900.0, "raw__tasks": 400.0},
        "unfinished": ["dbt_models_2"],
        "peak_rss_mb": 2100,
        "child_peak_rss_mb": 3300,
        "load_before": [5.0, 0, 0],
        "load_after": [6.0, 0, 0],
    }
    assert _note("night_full", night) == (
        "STOPPED (stopped by the benchmark's --stop-at at 19:05 UTC after 32 min); unfinished: dbt_models_2; "
        "dbt child peak 3300 MB; slowest steps: dbt_models 900.0, raw__tasks 400.0"
    )
    verdicts = _verdicts({"steps": {"night_full": night}})
    assert verdicts[0].startswith("- Full night: 32.0 min (target ≤ 15 min at 100k) — the run did not finish")
    assert (
        verdicts[1] == "- Largest peak RSS of a night process (its steps not measured apart): 3300 MB "
        "(night_full; meets ≤ 4 GB)."
    )


def test_incremental_share_is_taken_against_the_same_runs_full_night():
    from orchestration.benchmark import _verdicts

    def night(seconds, cpu):
        return {"success": True, "night_seconds": seconds, "cpu_seconds": cpu}

    full, yday, inc = night(1000.0, 1500.0), night(800.0, 1200.0), night(200.0, 300.0)
    steps = {"night_full": full, "night_yesterday": yday, "night_incremental": inc}
    verdicts = _verdicts({"steps": steps})
    assert verdicts[1] == (
        "- Full night of the incremental pair (night_yesterday, as of the day before): 13.3 min "
        "(target ≤ 15 min at 100k)."
    )
    shares = [v for v in verdicts if v.startswith("- Incremental night")]
    assert shares == [
        "- Incremental night: 3.3 min = 25% of the same run's full night (night_yesterday) (misses ≤ 20 %); "
        "in CPU seconds 300.0 ÷ 1200.0 = 25%."
    ]
    # without a (green) night_yesterday: against night_full, as before
    failed = {**yday, "success": False}
    for steps in ({"night_full": full}, {"night_full": full, "night_yesterday": failed}):
        shares = [v for v in _verdicts({"steps": {**steps, "night_incremental": inc}}) if "Incremental" in v]
        assert shares == [
            "- Incremental night: 3.3 min = 20% of the full night (meets ≤ 20 %); "
            "in CPU seconds 300.0 ÷ 1500.0 = 20%."
        ]


def test_stop_at_is_the_next_such_hour_within_half_a_day():
    import datetime as dt
    import time

    from orchestration.benchmark import stop_instant

    now = dt.datetime.now(dt.UTC)
    for hours, days_ahead in ((1, 0), (-1, 0), (-13, 1)):
        at = now + dt.timedelta(hours=hours)
        expected = at.replace(second=0, microsecond=0) + dt.timedelta(days=days_ahead)
        assert stop_instant(f"{at:%H:%M}") == expected.timestamp()
    assert stop_instant(f"{now:%H:%M}") <= time.time()


def test_results_of_two_benchmark_processes_in_one_work_folder_are_merged(tmp_path):
    import json

    from orchestration.benchmark import save_results

    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps({"800": {"work": "/old", "steps": {"dbt": {"seconds": 1}}}}))
    steps_run = {"work": "/w", "date": "d1", "steps": {"generate": {"seconds": 5}}}
    save_results(path, "100000", steps_run, "generate")
    # a second process (the night, --reuse of the same folder) starts from the file as it was then
    night_run = json.loads(path.read_text())["100000"] | {"uptime_resumed": "later"}
    steps_run["steps"]["load"] = {"seconds": 7}
    save_results(path, "100000", steps_run, "load")
    night_run["steps"]["night_full"] = {"night_seconds": 900}
    stored = save_results(path, "100000", night_run, "night_full")
    assert stored == json.loads(path.read_text())
    assert stored["800"] == {"work": "/old", "steps": {"dbt": {"seconds": 1}}}
    assert stored["100000"]["steps"] == {
        "generate": {"seconds": 5},
        "load": {"seconds": 7},
        "night_full": {"night_seconds": 900},
    }
    assert stored["100000"]["uptime_resumed"] == "later"
    # a new run of that size (another work folder) replaces the old one's steps
    stored = save_results(path, "100000", {"work": "/w2", "steps": {"generate": {"seconds": 6}}}, "generate")
    assert stored["100000"] == {"work": "/w2", "steps": {"generate": {"seconds": 6}}}


def test_a_kept_folder_is_reused_with_its_own_step_results_when_the_results_file_lacks_it(tmp_path):
    import json

    from orchestration.benchmark import reused_entry

    work = tmp_path / "bench100000_x"
    (work / "results").mkdir(parents=True)
    (work / "results" / "generate.driver.json").write_text(json.dumps({"rows": {"tasks": 9}, "seconds": 5}))
    (work / "results" / "load.driver.json").write_text(json.dumps({"seconds": 7, "cpu_seconds": 3}))
    (work / "results" / "load.json").write_text(
        json.dumps({"seconds": 1})
    )  # the step's own, not the driver's
    rebuilt = reused_entry(work, {"work": "/elsewhere", "steps": {"dbt": {"seconds": 1}}}, 36, "up")
    assert rebuilt["work"] == str(work)
    assert rebuilt["steps"] == {
        "generate": {"rows": {"tasks": 9}, "seconds": 5},
        "load": {"seconds": 7, "cpu_seconds": 3},
    }
    stored = {"work": str(work), "steps": {"dbt": {"seconds": 1}}}
    assert reused_entry(work, stored, 36, "up") is stored
    assert reused_entry(work, None, 36, "up")["steps"] == rebuilt["steps"]


def test_a_stopped_dbt_is_read_from_its_log_up_to_the_stop(tmp_path):
    from orchestration.benchmark import _note, finished_nodes, stopped_dbt

    log = tmp_path / "dbt.log"
    log.write_text(LOG, encoding="utf-8")
    assert finished_nodes(log) == {"a": 3.0, "b": 2.0, "not_null_a_x": 1.0}
    # stopped while model a was still running: b alone had finished
    stopped = tmp_path / "stopped.log"
    stopped.write_text(LOG.split("SQL status: OK in 0.250")[0], encoding="utf-8")
    assert stopped_dbt([stopped, tmp_path / "never_written.log"]) == {
        "nodes_finished": 1,
        "slowest_finished": [["b", 2.0]],
    }
    result = {"error": "stopped by --stop-at after 50 min", "seconds": 3000.0, **stopped_dbt([log])}
    assert _note("dbt", result) == (
        "stopped by --stop-at after 50 min; dbt before the stop: 3 nodes finished, "
        "slowest a 3.0, b 2.0, not_null_a_x 1.0"
    )


def _json_lines(text_log: str) -> str:
    """The text log's events as dbt writes them with `--log-format json` (a night's dbt under Dagster)."""
    import json
    import re

    lines = []
    for raw in text_log.splitlines():
        m = re.match(r"^\x1b\[0m(\d\d:\d\d:\d\d\.\d+) \[\w+\s*\] \[([^\]]+)\]: (.*)$", raw)
        if m:
            info = {"msg": m[3], "thread": m[2], "ts": f"2026-11-30T{m[1]}Z", "level": "debug"}
            lines.append(json.dumps({"data": {}, "info": info}))
    return "\n".join(lines) + "\n"


def test_a_stopped_nights_json_lines_dbt_log_is_read_like_the_text_log(tmp_path):
    from orchestration.benchmark import dbt_log_breakdown, finished_nodes, stopped_dbt

    log = tmp_path / "dbt.log"
    log.write_text(_json_lines(LOG), encoding="utf-8")
    assert finished_nodes(log) == {"a": 3.0, "b": 2.0, "not_null_a_x": 1.0}
    assert dbt_log_breakdown(log)["phases"] == {"start": 1.5, "parse": 12.0, "run": 4.0, "end": 2.0}
    # a night appends its three dbt invocations to one log; the stop cuts the last line in the middle
    stopped = tmp_path / "night" / "dbt.log"
    stopped.parent.mkdir()
    second = _json_lines(LOG.split("SQL status: OK in 0.250")[0]).replace("T10:", "T11:")
    stopped.write_text(_json_lines(LOG) + second[:-30], encoding="utf-8")
    assert stopped_dbt([stopped]) == {
        "nodes_finished": 3,
        "slowest_finished": [["a", 3.0], ["b", 2.0], ["not_null_a_x", 1.0]],
    }
    cut = tmp_path / "cut.log"
    cut.write_text(second[:-30], encoding="utf-8")
    assert stopped_dbt([cut]) == {"nodes_finished": 1, "slowest_finished": [["b", 2.0]]}


def test_a_published_version_is_counted_by_pages_and_bytes(tmp_path):
    from orchestration.benchmark import _note, published_files

    version = tmp_path / "2026-11-20_bench"
    (version / "pages" / "clients").mkdir(parents=True)
    (version / "pages" / "index.html").write_bytes(b"x" * 1024)
    (version / "pages" / "clients" / "index.html").write_bytes(b"x" * 2048)
    (version / "pages" / "clients" / "C001.json").write_bytes(b"x" * 512)
    (version / "snapshot.duckdb").write_bytes(b"x" * (2**20 - 3584))  # outside pages/: bytes only
    counted = published_files(version)
    assert counted == {"html_pages": 2, "other_page_files": 1, "mb": 1.0}
    assert _note("publish", {"publish_seconds": 61.5, **counted}) == (
        "publication alone 61.5 s: 2 HTML pages, 1 other page files, 1.0 MB"
    )


def _alone(script: str, timeout: float | None = None):
    """Runs `script` in a Python process of its own and returns the JSON of its last line: CPU
    clocks count a whole process tree, and a pytest worker's also holds other tests' threads and
    children (CI once read 0.52 CPU s for 0.4 s of work in a span)."""
    import json
    import subprocess
    import sys

    from orchestration import settings

    done = subprocess.run([sys.executable, "-c", script], cwd=settings.REPO_ROOT,
                          capture_output=True, text=True, check=True, timeout=timeout)  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


_BUSY = """
import json, time
def busy(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
"""


def test_phases_time_each_wrapped_function_by_wall_and_cpu_seconds():
    got = _alone(_BUSY + """
import types
from orchestration.benchmark import Phases
module = types.SimpleNamespace(work=lambda s: busy(s) or "done", wait=lambda s: time.sleep(s))
phases = Phases()
phases.wrap(module, "work", "busy")
phases.wrap(module, "work", "busy")  # wrapped once only
phases.wrap(module, "wait", "sleeping")
assert module.work(0.2) == "done"
module.work(0.1)
module.wait(0.3)
print(json.dumps(phases.as_dict()))
""")  # fmt: skip
    assert got["busy"]["calls"] == 2 and got["sleeping"]["calls"] == 1
    assert 0.3 <= got["busy"]["cpu_seconds"] <= got["busy"]["seconds"] + 0.1
    assert got["sleeping"]["seconds"] >= 0.3 and got["sleeping"]["cpu_seconds"] <= 0.1


def test_a_background_phase_counts_its_own_thread_and_the_phase_beside_it_does_not():
    """Publication's snapshot check runs in a thread while the pages render: each phase counts its own
    CPU (the process's CPU covers both threads; before, each counted the other's too)."""
    got = _alone('''
import json, threading, time, types
def busy(seconds):  # this thread's CPU: the two threads' work at once would end a process clock early
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
from orchestration.benchmark import Phases
phases = Phases()
module = types.SimpleNamespace(scan=lambda: busy(0.3), render=lambda: busy(0.5))
module.check = lambda: module.scan() or busy(0.4)  # the scan nested in it: its thread's clock
phases.wrap(module, "check", "check", background=True)
phases.wrap(module, "scan", "scan")
with phases.timed("publication"):  # began before the check: counts it
    worker = threading.Thread(target=module.check)
    worker.start()
    time.sleep(0.05)
    with phases.timed("pages"):  # began while the check ran: does not count it
        module.render()
        worker.join()
    module.scan()  # on the main thread, after it: the process's CPU, nothing subtracted
print(json.dumps(phases.as_dict()))
''')  # fmt: skip
    assert 0.65 <= got["check"]["cpu_seconds"] <= 0.85  # its own 0.7 s, the nested scan's included
    assert 0.25 <= got["scan (background)"]["cpu_seconds"] <= 0.4
    assert 0.45 <= got["pages"]["cpu_seconds"] <= 0.65  # 0.5 s of its own, not the check's 0.7
    assert got["scan"]["calls"] == 1 and 0.25 <= got["scan"]["cpu_seconds"] <= 0.4
    assert 1.45 <= got["publication"]["cpu_seconds"] <= 1.7  # all of it: 0.7 + 0.5 + 0.3


def test_the_cpu_clock_gives_the_cpu_seconds_of_any_span_of_the_night():
    sleeping, working, backwards, working_wall = _alone(_BUSY + """
from orchestration.benchmark import CpuClock
with CpuClock(interval=0.02) as clock:
    t0 = time.time()
    time.sleep(0.4)
    t1 = time.time()
    busy(0.4)
    t2 = time.time()
print(json.dumps([clock.cpu(t0, t1), clock.cpu(t1, t2), clock.cpu(t2, t0), t2 - t1]))
""")  # fmt: skip
    assert sleeping <= 0.1
    assert 0.3 <= working <= min(0.5, working_wall + 0.05)
    assert backwards == 0.0


def test_the_cpu_clock_stops_its_sampler_when_sigterm_is_ignored():
    """An ignored SIGTERM is inherited through exec (a test runner's worker had it): the clock's
    sampler still stops at the end of the span, and the samples are read (this hung a `make test`)."""
    start, working = _alone(_BUSY + """
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
from orchestration.benchmark import CpuClock
start = time.time()
with CpuClock(interval=0.02) as clock:
    t1 = time.time()
    busy(0.3)
    t2 = time.time()
print(json.dumps([time.time() - start, clock.cpu(t1, t2)]))
""", timeout=60)  # fmt: skip
    assert start < 15  # the sampler was stopped (at worst by the kill after 10 s), not waited on for ever
    assert 0.2 <= working <= 0.45


def _busy(seconds: float) -> None:
    import time

    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_night_breakdown_reads_every_step_of_a_real_dagster_run(tmp_path):
    import time

    import dagster as dg

    from orchestration.benchmark import CpuClock, Phases, night_breakdown

    @dg.op
    def sleeps():
        time.sleep(0.3)

    @dg.op
    def works(_after):
        _busy(1.0)  # a loaded machine's sampler may miss the last part of a step

    @dg.job(executor_def=dg.in_process_executor)
    def two_steps():
        works(sleeps())

    (tmp_path / "dagster.yaml").touch()
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    phases = Phases()
    with CpuClock(interval=0.02) as clock:
        began = time.time()
        with phases.timed("start-up: import Dagster and the definitions"):
            time.sleep(0.1)
        result = two_steps.execute_in_process(instance=instance)
        ended = time.time()
    got = night_breakdown(tmp_path, result.run_id, clock, phases, began, ended)
    assert list(got["steps"]) == ["sleeps", "works"]
    assert got["steps"]["sleeps"]["seconds"] >= 0.3 and got["steps"]["works"]["cpu_seconds"] >= 0.5
    assert got["steps"]["sleeps"]["cpu_seconds"] < got["steps"]["works"]["cpu_seconds"]
    assert got["start-up"]["seconds"] >= 0.1
    assert got["events"]["STEP_START"] == 2 and got["events"]["PIPELINE_START"] == 1
    parts = (
        got["start-up"]["seconds"] + got["Dagster: resolve the job, plan the run"]["seconds"]
        + got["run start (until the first step)"]["seconds"]
        + sum(s["seconds"] for s in got["steps"].values()) + got["between steps"]["seconds"]
        + got["after the last step (run end, alerts)"]["seconds"]
    )  # fmt: skip
    assert abs(parts - (ended - began)) <= 0.3  # the parts cover the night, rounding aside


def _fake_night(calls):
    def night(work, night, landing, as_of):
        calls.append((night, landing, as_of, sorted(p.name for p in (work / landing).rglob("*.csv"))))
        (work / night).mkdir(exist_ok=True)
        (work / night / "warehouse.duckdb").touch()
        loaded = {"tasks": {"loaded": 1, "skipped_unchanged": 1}, "clients": {"skipped_unchanged": 1}}
        return {"night_seconds": 1.0, "loads": loaded}

    return night


def test_the_incremental_pair_is_yesterdays_fresh_warehouse_then_the_drop_alone(tmp_path, monkeypatch):
    from orchestration import benchmark

    work = tmp_path
    for folder, entity, name in [("lz_yesterday", "tasks", "bench_0_base.csv"),
                                 ("lz_yesterday", "clients", "bench_0_base.csv"),
                                 ("drop", "tasks", "bench_1_drop.csv"),
                                 ("lz_incremental", "tasks", "bench_1_drop.csv"),  # an earlier pair's
                                 ("night_incremental", "", "stale.csv")]:  # fmt: skip
        (work / folder / entity).mkdir(parents=True, exist_ok=True)
        (work / folder / entity / name).write_text(f"{folder}\n")
    (work / "night_incremental" / "warehouse.duckdb").write_text("yesterday's, of an earlier pair")
    calls = []
    monkeypatch.setattr(benchmark, "_night", _fake_night(calls))
    benchmark.step_night_yesterday(work, 800, 36)
    assert calls[-1] == ("night_incremental", "lz_incremental", benchmark.YESTERDAY,
                         ["bench_0_base.csv", "bench_0_base.csv"])  # fmt: skip
    assert not (work / "night_incremental" / "stale.csv").exists()  # a fresh warehouse and home
    base = work / "lz_incremental" / "tasks" / "bench_0_base.csv"
    assert base.stat().st_ino == (work / "lz_yesterday" / "tasks" / "bench_0_base.csv").stat().st_ino
    result = benchmark.step_night_incremental(work, 800, 36)
    assert calls[-1] == ("night_incremental", "lz_incremental", benchmark.AS_OF,
                         ["bench_0_base.csv", "bench_0_base.csv", "bench_1_drop.csv"])  # fmt: skip
    assert result["reads_only_the_drop"] is True


def test_the_quiet_night_and_its_rerun_run_a_day_later_on_the_incremental_warehouse(tmp_path, monkeypatch):
    from orchestration import benchmark

    calls = []
    monkeypatch.setattr(benchmark, "_night", _fake_night(calls))
    with pytest.raises(SystemExit, match="run night_incremental first"):
        benchmark.step_night_quiet(tmp_path, 800, 36)
    (tmp_path / "lz_incremental" / "tasks").mkdir(parents=True)
    (tmp_path / "lz_incremental" / "tasks" / "bench_0_base.csv").touch()
    (tmp_path / "night_incremental").mkdir()
    (tmp_path / "night_incremental" / "warehouse.duckdb").touch()
    quiet = benchmark.step_night_quiet(tmp_path, 800, 36)
    rerun = benchmark.step_night_rerun(tmp_path, 800, 36)
    tomorrow = dt.date(2026, 11, 21)
    assert calls == [("night_incremental", "lz_incremental", tomorrow, ["bench_0_base.csv"])] * 2
    assert quiet["reads_nothing"] is rerun["reads_nothing"] is False  # the fake night loaded a file
    monkeypatch.setattr(benchmark, "_night", lambda *a: {"loads": {"tasks": {"skipped_unchanged": 2}}})
    assert benchmark.step_night_rerun(tmp_path, 800, 36)["reads_nothing"] is True


def test_the_incremental_night_is_split_by_the_quiet_night_and_its_rerun():
    from orchestration.benchmark import _verdicts

    def night(seconds, **extra):
        return {"success": True, "night_seconds": seconds, **extra}

    steps = {"night_yesterday": night(600.0), "night_incremental": night(150.0),
             "night_quiet": night(120.0, reads_nothing=True),
             "night_rerun": night(90.0, reads_nothing=False)}  # fmt: skip
    got = [v for v in _verdicts({"steps": steps}) if "night_quiet" in v or "night_rerun" in v or "split" in v]
    assert got == [
        "- night_quiet (no new file, only the date moved to 2026-11-21): 2.0 min = 20% of the same run's "
        "full night (night_yesterday).",
        "- night_rerun (the same night again: nothing new, the same date): 1.5 min = 15% of the same run's "
        "full night (night_yesterday) — **its loads read files** (see the statuses below).",
        "- The incremental night's 150.0 s, split by those two (approximately: they run a day later): 90.0 s "
        "that a night pays when nothing changed, 30.0 s for the date's move, 30.0 s for the drop's rows; "
        "20% of the same run's full night (night_yesterday) is 120.0 s.",
    ]
    steps["night_rerun"]["success"] = False  # a red rerun: no split, the quiet night alone
    got = [v for v in _verdicts({"steps": steps}) if v.startswith(("- night_", "- The incremental"))]
    assert [v.split(" (")[0] for v in got] == ["- night_quiet"]


def test_a_night_that_reread_yesterdays_files_is_flagged(tmp_path):
    from orchestration.benchmark import only_the_drop_read

    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "d.csv").touch()
    assert only_the_drop_read(
        {"tasks": {"loaded": 1, "skipped_unchanged": 3}, "staff": {"skipped_unchanged": 1}}, tmp_path
    )
    assert not only_the_drop_read({"tasks": {"loaded": 4}}, tmp_path)  # a full reload
    assert not only_the_drop_read({"tasks": {"loaded": 1}, "staff": {"loaded": 1}}, tmp_path)
    assert not only_the_drop_read({"tasks": {"loaded": 1, "waiting": 1}}, tmp_path)
    assert not only_the_drop_read({}, tmp_path)


def test_the_breakdown_table_groups_loads_and_nests_loader_and_publication_phases():
    from orchestration.benchmark import render_breakdowns

    def span(s, c):
        return {"seconds": s, "cpu_seconds": c}

    night = {
        "night_seconds": 100.0,
        "cpu_seconds": 80.0,
        "loads": {"tasks": {"loaded": 1, "skipped_unchanged": 1}},
        "reads_only_the_drop": False,
        "breakdown": {
            "start-up": span(5.0, 4.0),
            "run start (until the first step)": span(1.0, 1.0),
            "steps": {
                "raw__tasks": span(10.0, 9.0),
                "raw__staff": span(2.5, 2.0),
                "dbt_models": span(30.0, 20.0),
                "dbt_models_2": span(12.0, 8.0),
                "reports__published": span(40.0, 39.0),
            },
            "dbt": [
                {"start": 3.0, "parse": 2.0, "plan": 1.0, "run": 20.0, "end": 1.5, "nodes": 9},
                {"start": 2.0, "parse": 1.0, "plan": 1.0, "run": 5.0, "end": 1.0, "nodes": 3},
            ],
            "between steps": {"seconds": 3.0},
            "after the last step (run end, alerts)": span(2.0, 1.0),
            "phases": {
                "load: dedup (new rows + previous winners)": {"calls": 2, **span(6.0, 5.0)},
                "publish: pages": {"calls": 1, **span(20.0, 19.0)},
            },
        },
    }
    lines = render_breakdowns({"night_incremental": night})
    table = [ln for ln in lines if ln.startswith("| ")]
    assert table == [
        "| part | night_incremental |",
        "| start-up (import Dagster, definitions) | 5.0 / 4.0 |",
        "| Dagster: resolve the job, plan the run |  |",
        "| run start (resources, until the first step) | 1.0 / 1.0 |",
        "| loads (2 entities) | 12.5 / 11.0 |",
        "|   load: dedup (new rows + previous winners) | 6.0 / 5.0 |",
        "| dbt_models | 30.0 / 20.0 |",
        "|   dbt_models: dbt start-up, parse, plan, artifacts | 7.5 / – |",
        "|   dbt_models: dbt nodes | 20.0 / – |",
        "|   dbt_models: dagster-dbt around dbt | 2.5 / – |",
        "| dbt_models_2 | 12.0 / 8.0 |",
        "|   dbt_models_2: dbt start-up, parse, plan, artifacts | 5.0 / – |",
        "|   dbt_models_2: dbt nodes | 5.0 / – |",
        "|   dbt_models_2: dagster-dbt around dbt | 2.0 / – |",
        "| reports__published | 40.0 / 39.0 |",
        "|   publish: pages | 20.0 / 19.0 |",
        "| Dagster between steps | 3.0 / – |",
        "| after the last step (run end, alerts) | 2.0 / 1.0 |",
        "| **whole night** | 100.0 / 80.0 |",
    ]
    assert (
        "- night_incremental: files by status per entity (raw.load_files): "
        "tasks loaded 1, skipped_unchanged 1" in lines
    )
    assert any("**NO**" in ln for ln in lines)


def test_each_dbt_invocation_of_a_night_is_read_from_its_rotated_json_log(tmp_path):
    import json

    from orchestration.benchmark import dbt_invocations

    def line(second: float, msg: str, thread: str = "MainThread") -> str:
        ts = f"2026-11-30T23:15:{second:09.6f}Z"
        return json.dumps({"info": {"ts": ts, "thread": thread, "msg": msg}}) + "\n"

    first = [line(0, "Running with dbt=1.11.16"), line(3, "Unable to do partial parsing because x"),
             line(24, "Found 95 models, 539 data tests"), line(25, "Began running node model.p.a", "T1"),
             line(29, "Finished running node model.p.a", "T1")]  # fmt: skip
    second = [line(30, "Command `dbt build` succeeded"), line(40, "Running with dbt=1.11.16"),
              line(42, "Partial parsing enabled: 0 files deleted"), line(43, "Found 95 models"),
              line(44, "Began running node model.p.b", "T1"), line(44.5, "Began running node test.p.t", "T2"),
              line(50, "Finished running node test.p.t", "T2"),
              line(51, "Finished running node model.p.b", "T1"),
              line(52, "Command `dbt build` succeeded")]  # fmt: skip
    (tmp_path / "dbt.log.1").write_text("".join(first), encoding="utf-8")  # rotated: the older part
    (tmp_path / "dbt.log").write_text("".join(second), encoding="utf-8")
    assert dbt_invocations(tmp_path) == [
        {"start": 3.0, "parse": 21.0, "run": 4.0, "end": 1.0, "plan": 1.0, "nodes": 1},
        {"start": 2.0, "parse": 1.0, "run": 7.0, "end": 1.0, "plan": 1.0, "nodes": 2},
    ]


def test_a_childs_cpu_counts_while_it_runs_not_when_it_is_reaped():
    import resource
    import subprocess
    import sys
    import time

    from orchestration.benchmark import _cpu_now, _tree_cpu_scan, tree_cpu

    # it spins 0.65 s for the 0.6 s asked of it below: /proc counts user and system time in whole ticks
    # (10 ms), each rounded down, so a child that spun exactly 0.6 s can read 0.59 there for ever
    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 0.65\n"
                              "while time.process_time() < end: pass\ntime.sleep(30)"])  # fmt: skip
    try:
        # the child's own CPU (a test worker may have other live descendants, e.g. the session's Chromium)
        deadline = time.time() + 20
        while tree_cpu(child.pid) < 0.6 and time.time() < deadline:
            time.sleep(0.05)
        assert child.poll() is None and tree_cpu(child.pid) >= 0.6  # still running, not reaped
        time.sleep(0.1)  # sleeping now: the walk by `children` files reads what the full /proc scan reads
        assert tree_cpu(child.pid) == _tree_cpu_scan(child.pid)
        now = _cpu_now()
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        # the live child's CPU is in the clock beside this process's own and its reaped children's (other
        # live descendants only add to it)
        live = now - (own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime)
        assert live >= tree_cpu(child.pid) - 0.05
    finally:
        child.kill()
        child.wait()


def test_descendants_by_the_tree_walk_are_those_of_a_full_proc_scan():
    import os
    import subprocess
    import sys
    from pathlib import Path

    from orchestration.benchmark import _stat, descendants

    # a child that starts a grandchild, both sleeping
    sleeper = "import time; time.sleep(30)"
    code = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); time.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        found = []
        for _ in range(200):
            found = descendants(child.pid)
            if found:
                break
            subprocess.run(["sleep", "0.05"])
        parents = {int(p.parent.name): _stat(str(p))[0] for p in Path("/proc").glob("[0-9]*/stat")}
        grandchildren = [(pid, ppid) for pid, ppid in parents.items() if ppid == child.pid]
        assert len(grandchildren) == 1 and found == grandchildren
        assert (child.pid, os.getpid()) in descendants(os.getpid())
        assert grandchildren[0] in descendants(os.getpid())
        assert descendants(os.getpid(), skip=child.pid) == [
            d for d in descendants(os.getpid()) if child.pid not in d
        ]  # a skipped process's subtree is left out
    finally:
        for pid, _ppid in descendants(child.pid):
            os.kill(pid, 9)
        child.kill()
        child.wait()


def test_the_cpu_clock_keeps_sampling_while_the_night_holds_the_gil():
    import time

    from orchestration.benchmark import CpuClock

    with CpuClock(interval=0.05) as clock:
        t0, c0 = time.time(), time.process_time()
        total = sum(range(40_000_000))  # one C call: no other thread of this process runs meanwhile
        t1, c1 = time.time(), time.process_time()
    assert total > 0 and t1 - t0 >= 0.3
    assert sum(t0 <= t <= t1 for t, _ in clock.samples) >= 3
    # the loop's CPU, seen while it ran: all of it but what it spent after the last sample of the
    # span (at most that gap's wall seconds; a loaded machine gives the loop only part of a core,
    # so the bound is its own CPU, not its wall time)
    last = max(t for t, _ in clock.samples if t <= t1)
    assert clock.cpu(t0, t1) >= (c1 - c0) - (t1 - last) - 0.03


# ------------------------------------------------------------------ peak RSS of each step of one process

# a fresh interpreter measures spans with Peaks: `big` allocates 300 MB and frees it, `small` then 60 MB,
# `outer` holds `inner` (200 MB) and allocates 100 MB itself after it; prints the peaks as JSON
SPANS = """
import json
from orchestration.benchmark import Peaks
peaks = Peaks()
with peaks.span("big"):
    block = b"x" * (300 << 20)
    del block
with peaks.span("small"):
    block = b"x" * (60 << 20)
    del block
with peaks.span("outer"):
    with peaks.span("inner"):
        block = b"x" * (200 << 20)
        del block
    block = b"x" * (100 << 20)
    del block
with peaks.span("small"):  # a second call of a span keeps its largest
    block = b"x" * (20 << 20)
    del block
print(json.dumps({**peaks.peaks, "process": peaks.process_peak_mb(), "exact": peaks.exact}))
"""


def test_each_span_reports_its_own_peak_not_an_earlier_bigger_ones():
    import json
    import subprocess
    import sys

    from orchestration import settings

    out = subprocess.run(
        [sys.executable, "-c", SPANS], capture_output=True, text=True, check=True, cwd=settings.REPO_ROOT
    )
    got = json.loads(out.stdout)
    assert got["exact"] is True
    base = got["small"] - 60  # the interpreter and the imported benchmark module, ~30-60 MB
    assert 0 < base < 150
    # the kernel's high-water mark was reset at each start: `small` is not `big`'s 300 MB carried over
    # (that would make big - base ~60). `base` comes from `small`, whose peak the allocator moves by a
    # MB or two from run to run: hence the few MB below each block's size
    assert 295 <= got["big"] - base <= 320
    assert 195 <= got["inner"] - base <= 215
    assert got["outer"] == max(got["inner"], got["outer"])  # the inner span's peak is the outer's too
    assert got["process"] >= got["big"] >= got["outer"] + 80  # the whole process keeps its largest


def test_every_step_of_a_real_dagster_run_has_its_own_peak_and_its_childs(tmp_path):
    """A night's steps (in-process executor): each step's peak RSS in this process, reset at its start,
    and the peak of a child process it ran, put down to that step by when the child was alive."""
    import subprocess
    import sys
    import time

    import dagster as dg

    from orchestration.benchmark import STEP_SPAN, ChildPeak, Peaks, instrument_steps

    @dg.op
    def allocates():
        block = b"x" * (250 << 20)
        time.sleep(0.3)
        del block

    @dg.op
    def runs_a_child(_after):
        code = "import time; b = b'y' * (150 << 20); time.sleep(1.0)"
        subprocess.run([sys.executable, "-c", code], check=True)

    @dg.op
    def small(_after):
        return b"z" * (10 << 20) and None

    @dg.job(executor_def=dg.in_process_executor)
    def three_steps():
        small(runs_a_child(allocates()))

    (tmp_path / "dagster.yaml").touch()
    # processes this test worker already runs (e.g. the session's Chromium) are not the steps' children
    earlier = tuple(pid for pid, _parent in ChildPeak()._descendants())
    peaks = Peaks()
    instrument_steps(peaks)
    instrument_steps(peaks)  # wrapped once only
    with ChildPeak(interval=0.05) as children:
        result = three_steps.execute_in_process(instance=dg.DagsterInstance.from_config(str(tmp_path)))
    assert result.success
    own = {k.removeprefix(STEP_SPAN): v for k, v in peaks.peaks.items()}
    assert set(own) == {"allocates", "runs_a_child", "small"}
    assert own["allocates"] - own["small"] >= 200  # not carried over into the later steps
    assert own["runs_a_child"] < own["allocates"] - 200  # the child's memory is not the step's own
    stats = {
        s.step_key: s for s in dg.DagsterInstance.from_config(str(tmp_path)).get_run_step_stats(result.run_id)
    }
    child = {k: children.child_peak_between(s.start_time, s.end_time, skip=earlier) for k, s in stats.items()}
    assert 150 <= child["runs_a_child"] < 150 + 60
    # any other descendant (Dagster's own helpers, ~10 MB) is far below the step's child
    assert child["allocates"] < 100 and child["small"] < 100


def test_peaks_are_judged_per_night_step_and_the_generator_and_split_are_reported_apart():
    from orchestration.benchmark import breakdown_cell, peak_verdicts, render_breakdowns

    def part(s, mb, child=0):
        return {"seconds": s, "cpu_seconds": s, "peak_rss_mb": mb, "child_peak_rss_mb": child}

    night = {
        "night_seconds": 60.0,
        "peak_rss_mb": 4200,
        "breakdown": {
            "steps": {
                "raw__tasks": part(5.0, 900),
                "raw__staff": part(1.0, 1200),
                "dbt_models": part(30.0, 400, child=3300),
                "reports__published": part(20.0, 3500),
            },
            "phases": {
                "publish: pages": {"calls": 1, "seconds": 9.0, "cpu_seconds": 8.0, "peak_rss_mb": 3500}
            },
        },
    }
    floor = {"peak_rss_mb": 3200, "memory_limit": "memory_limit 3GB, 2 threads"}
    steps = {
        "generate": {"peak_rss_mb": 10690},
        "load": {"peak_rss_mb": 2300},
        "split": {"peak_rss_mb": 4104},  # over 4 GB, but no night runs it: no verdict
        "floor": floor,
        "night_full": night,
    }
    assert peak_verdicts(steps) == [
        "- Largest peak RSS of any night step: 3500 MB (night_full reports__published; meets ≤ 4 GB).",
        "- Largest peak RSS of a standalone step: 2300 MB (load; meets ≤ 4 GB).",
        "- The bare-SQL floor (a measurement, not a night step; DuckDB memory_limit 3GB, 2 threads): 3200 MB "
        "peak RSS.",
        "- The demo-data generator (`generate`, not a night step): 10690 MB peak RSS.",
        "- The benchmark's split of the loaded rows into yesterday's files and the drop (`split`, not a "
        "night step): 4104 MB peak RSS.",
    ]
    # a night recorded before its steps were measured apart: the whole process is judged
    old = {"night_full": {"peak_rss_mb": 4083}, "night_incremental": {"peak_rss_mb": 4340}}
    assert peak_verdicts(old) == [
        "- Largest peak RSS of a night process (its steps not measured apart): 4340 MB (night_incremental; "
        "misses ≤ 4 GB)."
    ]
    assert breakdown_cell(part(30.0, 400, child=3300)) == "30.0 / 30.0 / 400 MB (child 3300 MB)"
    assert breakdown_cell({"seconds": 3.0}) == "3.0 / –"
    table = [ln for ln in render_breakdowns({"night_full": night}) if ln.startswith("| ")]
    assert "| loads (2 entities) | 6.0 / 6.0 / 1200 MB |" in table  # the largest of the loads
    assert "|   publish: pages | 9.0 / 8.0 / 3500 MB |" in table


def test_split_dates_the_exports_before_the_settle_window(tmp_path):
    """The nights after the split must not wait for the loader's settle window on files it just wrote."""
    import os
    import time

    from orchestration import settings
    from orchestration.benchmark import landed_earlier

    for folder in ("lz_yesterday/tasks", "drop/tasks"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "a.csv").write_text("x\n")
    os.link(tmp_path / "drop/tasks/a.csv", tmp_path / "drop_link.csv")  # a landing zone's hard link
    assert landed_earlier(tmp_path / "lz_yesterday", tmp_path / "drop") == 2
    age = time.time() - (tmp_path / "drop_link.csv").stat().st_mtime
    assert age > settings.load_settle_seconds() and 3500 < age < 3700
    assert time.time() - (tmp_path / "lz_yesterday/tasks/a.csv").stat().st_mtime > 3500


def test_the_overhead_verdict_counts_the_python_models_on_the_floors_side():
    from orchestration.benchmark import overhead_verdict

    dbt = {"seconds": 170.0, "cpu_seconds": 300.0, "phases": {"parse": 4.0}}
    floor = {"sql_seconds": {"model": 100.0, "test": 20.0}, "python_seconds": 25.0, "cpu_seconds": 250.0}
    # 170 / (120 + 25) = 1.172; without the parse 166 / 145 = 1.145; SQL alone 170 / 120 = 1.417
    assert overhead_verdict(dbt, floor) == (
        "- Orchestration overhead: dbt build 170.0 s ÷ (bare SQL 120.0 s + its Python models run directly "
        "25.0 s) = 1.17× (meets ≤ 1.5×); 4.0 s of it parsing the project (a night parses once for its dbt "
        "steps): 1.14× without it; against the SQL alone 1.42×; in CPU seconds, which the shared machine's "
        "load hardly inflates: dbt 300.0 ÷ bare 250.0 = 1.20×."
    )
    # a floor recorded before it timed the Python models: the SQL alone, as it was judged then
    old = {"sql_seconds": {"model": 100.0, "test": 10.0}}
    assert overhead_verdict({"seconds": 170.0}, old) == (
        "- Orchestration overhead: dbt build 170.0 s ÷ bare SQL 110.0 s = 1.55× (misses ≤ 1.5×)."
    )
    assert overhead_verdict({}, floor) == "" and overhead_verdict(dbt, {}) == ""
    # SQL that rounds to 0.0 s (a tiny firm): no SQL-alone ratio instead of a division by zero
    tiny = {"sql_seconds": {"model": 0.0, "test": 0.0}, "python_seconds": 0.5}
    assert overhead_verdict({"seconds": 1.0}, tiny) == (
        "- Orchestration overhead: dbt build 1.0 s ÷ (bare SQL 0.0 s + its Python models run directly "
        "0.5 s) = 2.00× (misses ≤ 1.5×)."
    )
