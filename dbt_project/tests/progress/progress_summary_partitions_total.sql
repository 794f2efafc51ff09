-- The three headline counts partition the tasks, and done/overdue agree with the detail flags.
-- Scoped to the periods written since this test last passed (macros/untested_keys.sql,
-- untested_periods_filter: those the summary rebuilt and those of the detail rows built since).
{{ config(meta={'incremental_scope': {'mart_progress_summary': 'period', 'mart_progress_detail': 'task_id'}}) }}
{%- set in_scope = untested_periods_filter(ref('mart_progress_summary'), ref('mart_progress_detail')) %}
with summary as (
    select * from {{ ref('mart_progress_summary') }}
    where {{ in_scope }}
),

detail as (
    select
        summary_key,
        count(*) filter (where is_done) as done_rows,
        count(*) filter (where state = 'delayed' and not is_done) as overdue_open_rows
    from {{ ref('mart_progress_detail') }}
    where {{ in_scope }}
    group by summary_key
)

select s.summary_key, s.task_count, s.completed_count, s.not_completed_count, s.delayed_count
from summary as s
left join detail as d on d.summary_key = s.summary_key
where s.completed_count + s.not_completed_count + s.delayed_count <> s.task_count
   or s.not_started_count + s.in_progress_count <> s.not_completed_count
   or s.done_count <> coalesce(d.done_rows, 0)
   or s.overdue_open_count <> coalesce(d.overdue_open_rows, 0)
   or s.completion_rate <> cast(s.done_count as double) / s.task_count
