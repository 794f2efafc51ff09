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
