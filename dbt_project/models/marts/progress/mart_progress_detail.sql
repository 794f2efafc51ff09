-- 进度明细: one row per live task (created on or before the as-of date, not cancelled) with its progress
-- state. The state rule (metric_progress_state) lives here only: the board and the summary select it.
-- The task's keys into the summary (summary_key, drill_key) and the roll-ups (*_rollup_key) live here
-- too, so a drill-through selects exactly the rows a count was made of.
-- Incremental by task (macros/fingerprint_incremental.sql, built_fingerprints): a night computes only the
-- tasks whose input fingerprint (int_task_fingerprints, which holds the client attributes read here) is
-- not the one this mart's rows were built for. A contracted mart carries no fingerprint column: the
-- fingerprints its rows were built for are kept beside it (intermediate.mart_progress_detail__fingerprints);
-- the pre-hook compares them with tonight's once (macros/fingerprint_diff.sql: the differing pairs in
-- intermediate.mart_progress_detail__pending) and deletes the rows of tasks whose fingerprint changed or
-- that left the set (deleted, created after a rerun's date), the new rows are appended, and the post-hook
-- patches the recorded fingerprints with the same pairs. fct_tasks (built
-- just before) holds every task with its current state: a task to build is selected by its id.
-- depends_on: {{ ref('int_task_fingerprints') }}
{%- set incremental_rows = built_fingerprints_exist('int_task_fingerprints') %}
with
{%- if incremental_rows %}
to_build as (
    {{ diff_keys_to_build('int_task_fingerprints', 'task_id') }}
),
{%- endif %}

tasks as (
    select * from {{ ref('fct_tasks') }}
    -- a cancelled task is neither work done nor work owed
    where status_as_of <> 'cancelled'
    {%- if incremental_rows %}
        and task_id in (select b.task_id from to_build as b)
    {%- endif %}
),

clients as (
    select client_id, client_name, industry, industry_cn from {{ ref('dim_clients') }}
),

stated as (
    select
        t.*,
        case
            when t.status_as_of = 'done' and t.completed_date <= t.due_date then 'completed'
            when t.status_as_of = 'done' then 'delayed'
            when t.due_date < {{ as_of() }} then 'delayed'
            when t.status_as_of = 'in_progress' then 'in_progress'
            else 'not_started'
        end as state,
        -- one-off tasks (signing, registration) carry no service month: their due month stands in
        coalesce(t.period, t.due_period) as report_period,
        case when t.period is not null then 'task' else 'due_date' end as period_source
    from tasks as t
),

final as (
    select
        s.report_period || '|' || s.service_type || '|' || coalesce(c.industry, '') || '|'
            || coalesce(s.assignee_team, '') || '|' || s.assignee_id as summary_key,
        s.task_id,
        s.report_period as period,
        s.period_source,
        s.service_type,
        s.service_type_cn,
        c.industry,
        c.industry_cn,
        s.assignee_team as team,
        s.assignee_id as staff_id,
        s.assignee_name as staff_name,
        s.client_id,
        c.client_name,
        s.contract_id,
        s.stage,
        s.stage_cn,
        s.status_as_of,
        s.status_as_of_cn,
        s.state,
        case s.state
            when 'not_started' then '未开始'
            when 'in_progress' then '进行中'
            when 'completed' then '已完成'
            when 'delayed' then '已延迟'
        end as state_cn,
        s.status_as_of = 'done' as is_done,
        case s.state when 'completed' then 'completed' when 'delayed' then 'delayed' else 'not_completed' end
            as state_group,
        {{ progress_status('s.state', "s.status_as_of = 'done'", 's.due_date') }} as status_display,
        {{ progress_status_color('s.state', "s.status_as_of = 'done'", 's.due_date') }} as status_color,
        md5(s.report_period || '|' || s.service_type || '|' || coalesce(c.industry, '') || '|'
            || coalesce(s.assignee_team, '') || '|' || s.assignee_id || '|'
            || case s.state when 'completed' then 'completed' when 'delayed' then 'delayed' else 'not_completed' end)
            as drill_key,
        -- the mart_progress_rollup rows the task counts in (rollup_key = period|dimension_type|dimension_value)
        s.report_period || '|service_type|' || s.service_type as service_type_rollup_key,
        s.report_period || '|industry|' || coalesce(c.industry, 'unknown') as industry_rollup_key,
        s.report_period || '|team|' || coalesce(s.assignee_team, 'unassigned') as team_rollup_key,
        s.report_period || '|staff|' || s.assignee_id as staff_rollup_key,
        s.report_period || '|firm|all' as firm_rollup_key,
        s.created_date,
        s.due_date,
        s.completed_date,
        cast(s.days_late as integer) as days_late
    from stated as s
    left join clients as c on c.client_id = s.client_id
)

select * from final
