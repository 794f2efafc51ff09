"""The benchmark's reading of a dbt debug log (where dbt's time goes beside the SQL it runs)."""

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
