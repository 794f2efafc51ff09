-- 进度汇总 = 明细: for every summary_key and state, the summary count equals the number of detail rows
-- (a key present on one side only shows up as a mismatch against 0).
-- Scoped to the periods written since this test last passed (macros/untested_keys.sql,
-- untested_periods_filter: those the summary rebuilt and those of the detail rows built since).
{{ config(meta={'incremental_scope': {'mart_progress_summary': 'period', 'mart_progress_detail': 'task_id'}}) }}
{%- set in_scope = untested_periods_filter(ref('mart_progress_summary'), ref('mart_progress_detail')) %}
with detail_counts as (
    select summary_key, state, count(*) as detail_rows
    from {{ ref('mart_progress_detail') }}
    where {{ in_scope }}
    group by summary_key, state
),

summary_counts as (
    select summary_key, state, n
    from (select * from {{ ref('mart_progress_summary') }} where {{ in_scope }})
    cross join lateral (
        values
            ('not_started', not_started_count),
            ('in_progress', in_progress_count),
            ('completed', completed_count),
            ('delayed', delayed_count)
    ) as s(state, n)
)

select
    coalesce(s.summary_key, d.summary_key) as summary_key,
    coalesce(s.state, d.state) as state,
    coalesce(s.n, 0) as summary_count,
    coalesce(d.detail_rows, 0) as detail_rows
from summary_counts as s
full outer join detail_counts as d on d.summary_key = s.summary_key and d.state = s.state
where coalesce(s.n, 0) <> coalesce(d.detail_rows, 0)
