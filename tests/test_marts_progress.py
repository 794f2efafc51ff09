"""Progress marts (进度看板, 进度汇总表, 人员进度表) on a hand-made firm, built once as of 2026-10-10.

Two bookkeeping clients of the same industry (商贸), three staff: 张 (S1, accountant, 一部), 李 (S2,
field agent, 一部), 王 (S3, sales who also collects fees, 二部). The work of service month M is done in
M+1, so on 2026-10-10 the 2026-09 chains are under way:
- C1 / 2026-09: document collection B1 (李) was due 10-05 and is still in progress (it only finishes
  on 10-12, after the as-of date): 已延迟, 5 days late, and it blocks B2 (张) → B3 (张) → B4 (王).
- C2 / 2026-09: documents done, bookkeeping D2 (张) in progress, D3 (张) and D4 (王) wait on it.
- C2 / 2026-08: signed late (2026-07-28 vs due 07-25), fee collection E4 (王) due 09-25 still open.
Every expected number below is worked out by hand from these rows.
"""

from __future__ import annotations

import datetime as dt
import shutil
from hashlib import md5 as _md5

import duckdb
import pytest

from tests import dbt_helpers as h

AS_OF = "2026-10-10"
TS = dt.datetime(2026, 10, 10, 20, 0)
D = dt.date.fromisoformat
T = dt.datetime.fromisoformat

MARTS = [
    "mart_progress_board",
    "mart_progress_summary",
    "mart_progress_rollup",
    "mart_staff_progress",
    "mart_staff_blocking_detail",
]


def _task(tid, client, contract, stage, period, who, due, created, started=None, completed=None,
          depends_on=None, status=None, updated=TS):  # fmt: skip
    # raw rows show today's export: a task completed after the as-of date is already 'done' here
    status = status or ("done" if completed else "in_progress" if started else "todo")
    return h.task_row(tid, client, stage, due, status, contract_id=contract, period=period, assignee_id=who,
                      created_at=created, started_at=started, completed_at=completed,
                      depends_on_task_id=depends_on, updated_at=updated)  # fmt: skip


def _chain(prefix, client, contract, period, created, dues, events, upstream):
    """The four period tasks 票据采集 → 记账 → 报税 → 收款, each depending on the previous one."""
    stages = ["document_collection", "bookkeeping", "tax_filing", "fee_collection"]
    who = ["S2", "S1", "S1", "S3"]
    rows, prev = [], upstream
    for n, (stage, person, due, (started, done)) in enumerate(zip(stages, who, dues, events, strict=True), 1):
        tid = f"{prefix}{n}"
        rows.append(_task(tid, client, contract, stage, period, person, due, created, started, done, prev))
        prev = tid
    return rows


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    staff = [
        ("S1", "张", "accountant", "一部"),
        ("S2", "李", "field_agent", "一部"),
        ("S3", "王", "sales", "二部"),
    ]
    contracts = [("K1", "C1", "2026-07-01", "2027-06-30", "2026-06-20"),
                 ("K2", "C2", "2026-08-01", "2027-07-31", "2026-07-28")]  # fmt: skip
    tasks = [
        # signing: K1 on time, K2 completed three days after its due date (已延迟 although done)
        _task("SG1", "C1", "K1", "signing", None, "S3", "2026-06-20", "2026-06-15 09:00",
              "2026-06-15 09:00", "2026-06-20 15:00"),
        _task("SG2", "C2", "K2", "signing", None, "S3", "2026-07-25", "2026-07-20 09:00",
              "2026-07-20 09:00", "2026-07-28 15:00"),
        # C1 / 2026-08: all done, tax filing one day late
        *_chain("A", "C1", "K1", "2026-08", "2026-09-01 08:00",
                ["2026-09-05", "2026-09-12", "2026-09-15", "2026-09-25"],
                [("2026-09-01 10:00", "2026-09-04 17:00"), ("2026-09-05 09:00", "2026-09-12 18:00"),
                 ("2026-09-13 09:00", "2026-09-16 11:00"), ("2026-09-17 09:00", "2026-09-20 16:00")],
                "SG1"),
        # C1 / 2026-09: documents late and still open on 10-10 (finished 10-12), the rest waits
        *_chain("B", "C1", "K1", "2026-09", "2026-10-01 08:00",
                ["2026-10-05", "2026-10-12", "2026-10-15", "2026-10-25"],
                [("2026-10-02 10:00", "2026-10-12 17:00"), (None, None), (None, None), (None, None)],
                "SG1"),
        # C2 / 2026-08: fee collection started 09-20, due 09-25, still open: 15 days late on 10-10
        *_chain("E", "C2", "K2", "2026-08", "2026-09-01 08:00",
                ["2026-09-05", "2026-09-12", "2026-09-15", "2026-09-25"],
                [("2026-09-01 10:00", "2026-09-05 17:00"), ("2026-09-06 09:00", "2026-09-10 18:00"),
                 ("2026-09-11 09:00", "2026-09-15 11:00"), ("2026-09-20 09:00", None)],
                "SG2"),
        # C2 / 2026-09: documents done on time, bookkeeping in progress
        *_chain("D", "C2", "K2", "2026-09", "2026-10-01 08:00",
                ["2026-10-05", "2026-10-12", "2026-10-15", "2026-10-25"],
                [("2026-10-01 10:00", "2026-10-03 17:00"), ("2026-10-06 09:00", None), (None, None),
                 (None, None)],
                "SG2"),
        # a cancelled duplicate (left out of every count) and a task created after the as-of date
        _task("X1", "C2", "K2", "bookkeeping", "2026-08", "S1", "2026-09-12", "2026-09-01 08:00",
              status="cancelled", updated=T("2026-09-02 10:00")),
        _task("F1", "C2", "K2", "document_collection", "2026-10", "S2", "2026-11-05", "2026-11-01 08:00"),
    ]  # fmt: skip
    raw = {
        "staff": [h.staff_row(s, n, r, team=t, hire_date="2024-01-01", updated_at=TS)
                  for s, n, r, t in staff],
        # each client signed on its contract's signing date
        "clients": [h.client_row(cid, f"客户{cid}", industry="trade", signed_date=D(signed), sales_id="S3",
                                 updated_at=TS) for _, cid, _, _, signed in contracts],
        "contracts": [h.contract_row(kid, cid, "300.00", start, end, signed_date=D(signed), updated_at=TS)
                      for kid, cid, start, end, signed in contracts],
        "tasks": tasks,
    }  # fmt: skip
    # cautious: only tests whose every parent is selected (not e.g. relationships into fct_feedback)
    yield from h.read_only_warehouse(
        tmp_path_factory.mktemp("marts_progress"), AS_OF, [f"+{m}" for m in MARTS], raw
    )


def md5(text: str) -> str:
    return _md5(text.encode()).hexdigest()


STAGE_STATES = (
    "signing_state, document_collection_state, bookkeeping_state, tax_filing_state, fee_collection_state"
)


def test_board_client_periods(warehouse):
    # K1 covers 2026-07..10 and K2 2026-08..10 up to the as-of month: 4 + 3 rows
    keys = warehouse.execute("select board_key from marts.mart_progress_board order by board_key").fetchall()
    assert [k for (k,) in keys] == [
        "C1|2026-07", "C1|2026-08", "C1|2026-09", "C1|2026-10", "C2|2026-08", "C2|2026-09", "C2|2026-10",
    ]  # fmt: skip


def test_board_late_document_collection(warehouse):
    row = warehouse.execute(
        f"select {STAGE_STATES}, document_collection_state_cn, current_stage, current_stage_cn,"
        " current_stage_staff_name, days_late, stages_done_count, accountant_id, team, industry_cn"
        " from marts.mart_progress_board where board_key = 'C1|2026-09'"
    ).fetchone()
    # B1 due 10-05, open on 10-10: 10-10 - 10-05 = 5 days; only 签约 is done
    assert row == (
        "completed", "delayed", "not_started", "not_started", "not_started", "已延迟",
        "document_collection", "票据采集", "李", 5, 1, "S1", "一部", "商贸",
    )  # fmt: skip


def test_board_done_late_stage_is_passed_and_open_fee_is_current(warehouse):
    row = warehouse.execute(
        f"select {STAGE_STATES}, current_stage, current_stage_state, days_late, stages_done_count,"
        " bookkeeping_task_id from marts.mart_progress_board where board_key = 'C2|2026-08'"
    ).fetchone()
    # signed 07-28 > due 07-25: 已延迟 but done; fee E4 due 09-25 open: 10-10 - 09-25 = 15 days;
    # the cancelled duplicate X1 does not replace E2
    assert row == ("delayed", "completed", "completed", "completed", "delayed",
                   "fee_collection", "delayed", 15, 4, "E2")  # fmt: skip
    # a month whose tasks do not exist yet: 未开始 from documents on, not late
    row = warehouse.execute(
        f"select {STAGE_STATES}, current_stage, days_late from marts.mart_progress_board"
        " where board_key = 'C1|2026-07'"
    ).fetchone()
    assert row == ("completed", "not_started", "not_started", "not_started", "not_started",
                   "document_collection", 0)  # fmt: skip
    row = warehouse.execute(
        "select current_stage, current_stage_cn, current_stage_state, days_late, stages_done_count"
        " from marts.mart_progress_board where board_key = 'C1|2026-08'"
    ).fetchone()
    assert row == ("all_done", "全部完成", None, 0, 5)  # A3 was a day late but is done


def test_summary_counts_and_drill_through(warehouse):
    key = "2026-08|bookkeeping|trade|一部|S1"
    row = warehouse.execute(
        "select task_count, completed_count, not_completed_count, delayed_count, done_count,"
        " completion_rate from marts.mart_progress_summary where summary_key = ?",
        [key],
    ).fetchone()
    # 张's 2026-08 tasks: A2 on time, A3 one day late, E2 and E3 on time; X1 cancelled is left out
    assert row == (4, 3, 0, 1, 4, 1.0)
    detail = warehouse.execute(
        "select task_id, state from marts.mart_progress_detail where summary_key = ? order by task_id", [key]
    ).fetchall()
    assert detail == [("A2", "completed"), ("A3", "delayed"), ("E2", "completed"), ("E3", "completed")]

    key = "2026-09|bookkeeping|trade|一部|S1"
    row = warehouse.execute(
        "select task_count, completed_count, not_completed_count, not_started_count, in_progress_count,"
        " delayed_count, completion_rate from marts.mart_progress_summary where summary_key = ?",
        [key],
    ).fetchone()
    assert row == (4, 0, 4, 3, 1, 0, 0.0)  # B2, B3, D3 not started; D2 in progress; none past due
    n = warehouse.execute(
        "select count(*) from marts.mart_progress_detail where summary_key = ? and state = 'in_progress'",
        [key],
    ).fetchone()
    assert n == (1,)


def test_rollup_counts_and_drill_keys_select_exactly_the_counted_tasks(warehouse):
    # 张 (S1) in 2026-08: A2, E2, E3 on time, A3 one day late (as the summary row above: all bookkeeping)
    row = warehouse.execute(
        "select task_count, completed_count, not_completed_count, delayed_count, detail_key, delayed_key"
        " from marts.mart_progress_rollup where rollup_key = '2026-08|staff|S1'"
    ).fetchone()
    assert row[:4] == (4, 3, 0, 1)
    assert row[4:] == (md5("2026-08|staff|S1"), md5("2026-08|staff|S1|delayed"))
    tasks = warehouse.execute(
        "select task_id from marts.mart_progress_detail where staff_rollup_key = '2026-08|staff|S1'"
        " and state_group = 'delayed'"
    ).fetchall()
    assert tasks == [("A3",)]
    # every roll-up row of every dimension: its counts are the detail rows carrying its key
    mismatches = warehouse.execute(
        """with keyed as (
               select unnest([service_type_rollup_key, industry_rollup_key, team_rollup_key,
                              staff_rollup_key, firm_rollup_key]) as rollup_key, state_group
               from marts.mart_progress_detail
           ),
           counted as (
               select rollup_key, count(*) as n,
                      count(*) filter (where state_group = 'completed') as completed,
                      count(*) filter (where state_group = 'not_completed') as not_completed,
                      count(*) filter (where state_group = 'delayed') as delayed
               from keyed group by rollup_key
           )
           select r.rollup_key from marts.mart_progress_rollup as r
           full join counted as c on c.rollup_key = r.rollup_key
           where (r.task_count, r.completed_count, r.not_completed_count, r.delayed_count)
                 is distinct from (c.n, c.completed, c.not_completed, c.delayed)"""
    ).fetchall()
    assert mismatches == []
    # the firm's 2026-08 row holds every live 2026-08 task: A1-A4 (C1) and E1-E4 (C2); X1 cancelled
    assert warehouse.execute(
        "select task_count from marts.mart_progress_rollup where rollup_key = '2026-08|firm|all'"
    ).fetchone() == (8,)


def test_one_off_tasks_use_their_due_month(warehouse):
    rows = warehouse.execute(
        "select task_id, period, period_source, state, days_late from marts.mart_progress_detail"
        " where stage = 'signing' order by task_id"
    ).fetchall()
    assert rows == [
        ("SG1", "2026-06", "due_date", "completed", 0),
        ("SG2", "2026-07", "due_date", "delayed", 3),  # done 07-28, due 07-25
    ]
    assert warehouse.execute(
        "select count(*) from marts.mart_progress_detail where task_id in ('X1', 'F1')"
    ).fetchone() == (0,)


def test_staff_progress_of_the_accountant(warehouse):
    row = warehouse.execute(
        "select todo_count, in_progress_count, open_count, overdue_count, done_this_month_count,"
        " done_trailing_window_count, days_to_clear, expected_completion_date, latest_open_due_date,"
        " blocked_count, blocking_count, blocking_people_count"
        " from marts.mart_staff_progress where staff_id = 'S1'"
    ).fetchone()
    # open: B2, B3, D3 todo + D2 in progress, all due 10-12 or 10-15 (not overdue on 10-10).
    # done in (09-10, 10-10]: A2 09-12, A3 09-16, E3 09-15 (E2 on 09-10 falls just outside) = 3;
    # days to clear = ceil(4 × 30 / 3) = 40 → 2026-11-19.
    # blocked: B2 (by 李's B1), B3 (by own B2), D3 (by own D2) = 3; D2's upstream D1 is done.
    # blocking others: 王's B4 (waits on B3) and D4 (waits on D3) = 2 tasks of 1 person.
    assert row == (3, 1, 4, 0, 0, 3, 40, D("2026-11-19"), D("2026-10-15"), 3, 2, 1)


def test_staff_blocking_detail_and_other_people(warehouse):
    rows = warehouse.execute(
        "select blocked_task_id, blocked_staff_id, blocking_task_id, blocking_staff_id, blocking_status,"
        " is_self_blocked from marts.mart_staff_blocking_detail order by blocked_task_id"
    ).fetchall()
    assert rows == [
        ("B2", "S1", "B1", "S2", "in_progress", False),
        ("B3", "S1", "B2", "S1", "todo", True),
        ("B4", "S3", "B3", "S1", "todo", False),
        ("D3", "S1", "D2", "S1", "in_progress", True),
        ("D4", "S3", "D3", "S1", "todo", False),
    ]  # E4's upstream E3 is done: not blocked
    rows = warehouse.execute(
        "select staff_id, open_count, overdue_count, max_days_overdue, done_this_month_count,"
        " blocked_count, blocking_count from marts.mart_staff_progress order by staff_id"
    ).fetchall()
    assert rows == [
        ("S1", 4, 0, 0, 0, 3, 2),
        ("S2", 1, 1, 5, 1, 0, 1),  # B1 5 days overdue; D1 done 10-03; blocks 张's B2
        ("S3", 3, 1, 15, 0, 2, 0),  # E4 (15 days overdue), B4, D4 open; B4 and D4 blocked
    ]


@pytest.mark.parametrize(
    ("corruption", "problem"),
    [
        # a stage task's state unlike the detail mart's (B1 is delayed there)
        ("document_collection_state = 'completed' where board_key = 'C1|2026-09'", "disagrees with detail"),
        # a stage id of a task the detail does not hold for that stage (A1 is document collection)
        ("fee_collection_task_id = 'A1' where board_key = 'C1|2026-08'", "disagrees with detail"),
        ("days_late = 3 where board_key = 'C1|2026-08'", "current stage"),
    ],
)
def test_board_consistency_test_catches_a_broken_row(warehouse, tmp_path, corruption, problem):
    """The singular test progress_board_current_stage_consistent (rewritten to read the board directly,
    no shared CTE) passes on the built board (the fixture's build) and fails on each broken row."""
    path = warehouse.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()[0]
    copy = tmp_path / "warehouse.duckdb"  # the file name the parsed manifest is for
    shutil.copy(path, copy)
    with duckdb.connect(str(copy)) as conn:
        conn.execute(f"update marts.mart_progress_board set {corruption}")
        # an edit outside dbt: its keys were not recorded, so (runbook) the board's key table is dropped
        # and the scoped test reads every row again (a scoped test reads only keys dbt built since it passed)
        conn.execute("drop table if exists test_scope.marts__mart_progress_board")
    with pytest.raises(h.DbtRunError, match="FAIL 1 progress_board_current_stage_consistent"):
        h.run_dbt(["test", "--select", "progress_board_current_stage_consistent"], copy, AS_OF,
                  tmp_path / "target")  # fmt: skip
    with duckdb.connect(str(copy), read_only=True) as conn:
        sql = (tmp_path / "target" / "compiled" / "opscenter" / "tests" / "progress"
               / "progress_board_current_stage_consistent.sql").read_text()  # fmt: skip
        assert [r[1] for r in conn.execute(sql).fetchall()][0].endswith(problem)
