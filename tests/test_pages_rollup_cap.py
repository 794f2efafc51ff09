"""The progress roll-up drill (reports/pages/progress-rollup/[key].md) lists at most 1,000 tasks per cell.

A firm-wide service-type cell holds a month's tasks of every client (~250,000 rows at 100,000 clients,
a 105 MB data file rewritten whenever one task changes). The page keeps the cell's full count in its
heading, lists the first 1,000 tasks in the table's own order (state, due date, task id) and says so.
Real page file, real render_site over a small hand-made snapshot with the four tables the page reads.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb

from orchestration.render import render_site
from orchestration.render.page_source import parse_page
from orchestration.render.queries import KEYS_TABLE, keyed_query, open_snapshot

REPORTS = Path(__file__).resolve().parent.parent / "reports"
SOURCES = ("progress_rollup", "progress_detail", "progress_summary", "collection_forecast")
CONTEXT = {"as_of_date": "2026-11-20", "run_id": "r1", "quality_status": "通过"}
BIG, SMALL = 1_500, 3

SNAPSHOT = f"""
create schema marts;
create table marts.mart_collection_forecast as select date '2026-11-20' as as_of_date;
create table marts.mart_progress_summary as select '2026-11' as period;
create table marts.mart_progress_rollup as
select * from (values
    ('big', '2026-11', 'service_type', '服务类型', '代理记账', 'big-all', 'big-done', 'big-open', 'big-late',
     {BIG}, {BIG // 2}, {BIG - BIG // 2}, 0),
    ('small', '2026-11', 'service_type', '服务类型', '税务申报', 'small-all', 'small-done', 'small-open',
     'small-late', {SMALL}, 1, 2, 0)
) v(rollup_key, period, dimension_type, dimension_type_cn, dimension_value_cn, detail_key, completed_key,
    not_completed_key, delayed_key, task_count, completed_count, not_completed_count, delayed_count);
create table marts.mart_progress_detail as
select printf('T%05d', i) as task_id, 'C1' as client_id, '客户一' as client_name,
       case when i <= {BIG} then '代理记账' else '税务申报' end as service_type_cn, '记账' as stage_cn,
       '张三' as staff_name, '进行中' as status_display, '进行中' as status_as_of_cn,
       'in_progress' as status_as_of,
       -- due dates run backwards, so the table's order (state, due date, task id) is not task id order
       date '2026-12-31' - cast(i % 700 as integer) as due_date, cast(null as date) as completed_date,
       0 as days_late, '2026-11' as period,
       case when i % 2 = 0 then 'completed' else 'not_completed' end as state_group,
       case when i % 2 = 0 then 'done' else 'open' end as state,
       case when i <= {BIG} then 'big' else 'small' end as service_type_rollup_key,
       'x-industry' as industry_rollup_key, 'x-team' as team_rollup_key, 'x-staff' as staff_rollup_key,
       'x-firm' as firm_rollup_key
from range(1, {BIG + SMALL + 1}) t(i);
"""


def _site(tmp_path: Path) -> tuple[list, Path]:
    pages = tmp_path / "src" / "pages"
    (pages / "progress-rollup").mkdir(parents=True)
    shutil.copy(REPORTS / "pages" / "progress-rollup" / "[key].md", pages / "progress-rollup")
    # the pages it links to, as stubs
    (pages / "progress-summary.md").write_text("---\ntitle: 进度汇总\n---\n\nx\n", encoding="utf-8")
    (pages / "clients").mkdir()
    (pages / "clients" / "[client_id].md").write_text(
        "---\ntitle: 客户\nparams_query: select distinct client_id from opscenter.progress_detail\n"
        "---\n\nx\n",
        encoding="utf-8",
    )
    sources = tmp_path / "src" / "sources" / "opscenter"
    sources.mkdir(parents=True)
    for name in SOURCES:
        shutil.copy(REPORTS / "sources" / "opscenter" / f"{name}.sql", sources)
    snap = tmp_path / "snapshot.duckdb"
    with duckdb.connect(str(snap)) as con:
        con.execute(SNAPSHOT)
    out = tmp_path / "out"
    return render_site(pages, snap, out, CONTEXT), snap


def _data(rendered, key):
    (page,) = [p for p in rendered if p.kind == "data" and p.params.get("key") == key]
    return page, page.path.read_text(encoding="utf-8")


def _tasks(text: str) -> list[str]:
    """The task ids of a data file in the order they appear (each cell holds its value and its text)."""
    return list(dict.fromkeys(re.findall(r"T\d{5}", text)))


def test_a_cell_lists_at_most_1000_tasks_in_the_tables_order_and_says_so(tmp_path):
    rendered, snap = _site(tmp_path)
    with duckdb.connect(str(snap), read_only=True) as con:
        ordered = [
            r[0]
            for r in con.execute(
                "select task_id from marts.mart_progress_detail where service_type_rollup_key = 'big' "
                "order by state, due_date, task_id"
            ).fetchall()
        ]
        done = [
            r[0]
            for r in con.execute(
                "select task_id from marts.mart_progress_detail where service_type_rollup_key = 'big' "
                "and state_group = 'completed' order by state, due_date, task_id"
            ).fetchall()
        ]
    assert len(ordered) == BIG and len(done) == BIG // 2

    page, text = _data(rendered, "big-all")
    assert page.row_counts["tasks"] == 1000
    assert _tasks(text) == ordered[:1000]
    assert "只列出前 1,000 项" in text and "1,500" in text  # the heading keeps the cell's full count

    page, text = _data(rendered, "big-done")  # 750 completed tasks: all listed, no note
    assert page.row_counts["tasks"] == BIG // 2
    assert set(re.findall(r"T\d{5}", text)) == set(done) and "只列出前" not in text

    # 750 open tasks, ranked 751-1,500 among the cell's tasks: the state's own page lists them all, in the
    # table's order (the cap counts within the state group)
    page, text = _data(rendered, "big-open")
    assert page.row_counts["tasks"] == BIG - BIG // 2
    assert _tasks(text) == [t for t in ordered if t not in set(done)]

    page, text = _data(rendered, "small-all")
    assert page.row_counts["tasks"] == SMALL and "只列出前" not in text


def test_the_task_list_runs_once_for_all_cells(tmp_path):
    """The renderer runs the page's task list once for every cell (queries.keyed_query), not once per
    cell (16,372 cells at 100,000 clients): the query keeps a shape it can key, and the all-cells run
    gives each cell the rows the render published for it."""
    rendered, snap = _site(tmp_path)
    page = tmp_path / "src" / "pages" / "progress-rollup" / "[key].md"
    keyed = keyed_query("tasks", parse_page(page).queries, "key", page)
    assert keyed is not None
    keys = sorted(p.params["key"] for p in rendered if p.kind == "data" and "key" in p.params)
    con = open_snapshot(snap, tmp_path / "src" / "sources")
    con.execute(
        f"create temp table {KEYS_TABLE} as select unnest(range(?)) as __pos, unnest(?::varchar[]) as __key",
        [len(keys), keys],
    )
    counts = dict(con.execute(f"select __key, count(*) from ({keyed}) group by __key").fetchall())
    con.close()
    published = {
        p.params["key"]: p.row_counts["tasks"] for p in rendered if p.kind == "data" and "key" in p.params
    }
    assert {k: counts.get(k, 0) for k in keys} == published and counts["big-all"] == 1000
