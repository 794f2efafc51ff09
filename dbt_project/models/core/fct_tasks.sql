-- Tasks created on or before the as-of date, with their state on that date derived from the event
-- timestamps: a start or completion after the as-of date has not happened yet. Cancellation and a
-- 'done' without completed_at carry no event time, so their updated_at stands in for it.
-- Incremental (macros/fingerprint_incremental.sql): a night computes only the tasks whose input fingerprint
-- (int_task_fingerprints) is not stored yet — the open ones and the changed ones — and keeps the rest;
-- the pre-hook found them (macros/fingerprint_diff.sql), the post-hook deletes the rows they supersede.
{#- a task's events and state on the as-of date, stated once for the task rows and their upstream tasks' -#}
{%- set task_events -%}
coalesce(completed_at, case when status = 'done' then updated_at end) as effective_completed_at,
        case when status = 'cancelled' then updated_at end as effective_cancelled_at
    from {{ ref('stg_tasks') }}
    where cast(created_at as date) <= {{ as_of() }}
    {%- if is_incremental() %}
        and task_id in (select n.task_id from needed as n)
    {%- endif %}
{%- endset %}
{%- set status_as_of -%}
case
            when cast(effective_cancelled_at as date) <= {{ as_of() }} then 'cancelled'
            when cast(effective_completed_at as date) <= {{ as_of() }} then 'done'
            when cast(started_at as date) <= {{ as_of() }} then 'in_progress'
            else 'todo'
        end
{%- endset %}
{%- set completed_date_as_of -%}
case
            when cast(effective_completed_at as date) <= {{ as_of() }}
                and not coalesce(cast(effective_cancelled_at as date) <= {{ as_of() }}, false)
                then cast(effective_completed_at as date)
        end
{%- endset %}
with to_build as (
    {%- if fingerprint_column_built() %}
    {{ diff_keys_to_build('int_task_fingerprints', 'task_id') }}
    {%- else %}
    {{ keys_to_build('int_task_fingerprints', 'task_id') }}
    {%- endif %}
),

staff as (
    select staff_id, staff_name, team, role from {{ ref('dim_staff') }}
),

{%- if is_incremental() %}

-- the tasks to build and their upstream tasks: an incremental night states only these
needed as (
    select task_id from to_build
    union
    select t.depends_on_task_id
    from {{ ref('stg_tasks') }} as t
    inner join to_build as b on b.task_id = t.task_id
    where cast(t.created_at as date) <= {{ as_of() }}
),
{%- endif %}

-- The staging view is read here and in upstream directly, not through one shared CTE: DuckDB
-- materializes a CTE read twice (every column of all 8.8 M tasks at 100,000 clients) before either
-- reader's projection applies; the upstream side needs three columns.
events as (
    select
        *,
        {{ task_events }}
),

stated as (
    select
        *,
        {{ status_as_of }} as status_as_of,
        {{ completed_date_as_of }} as completed_date_as_of
    from events
),

-- the upstream task's state (the same rules as stated)
upstream as (
    select
        task_id,
        {{ status_as_of }} as status_as_of,
        {{ completed_date_as_of }} as completed_date_as_of
    from (
        select
            task_id,
            started_at,
            {{ task_events }}
    ) as e
),

final as (
    select
        t.task_id,
        t.client_id,
        t.contract_id,
        t.service_type,
        {{ enum_label('service_type', 't.service_type') }} as service_type_cn,
        t.stage,
        {{ enum_label('stage', 't.stage') }} as stage_cn,
        t.period,
        t.assignee_id,
        s.staff_name as assignee_name,
        s.team as assignee_team,
        s.role as assignee_role,
        t.created_at,
        cast(t.created_at as date) as created_date,
        t.due_date,
        strftime(t.due_date, '%Y-%m') as due_period,
        case when cast(t.started_at as date) <= {{ as_of() }} then t.started_at end as started_at,
        case when t.completed_date_as_of is not null then t.effective_completed_at end as completed_at,
        t.completed_date_as_of as completed_date,
        t.status as source_status,
        t.status_as_of,
        {{ enum_label('task_status', 't.status_as_of') }} as status_as_of_cn,
        t.status_as_of in ('todo', 'in_progress') as is_open,
        t.status_as_of in ('todo', 'in_progress') and t.due_date < {{ as_of() }} as is_overdue,
        case
            when t.status_as_of = 'done' then greatest(0, datediff('day', t.due_date, t.completed_date_as_of))
            when t.status_as_of in ('todo', 'in_progress') and t.due_date < {{ as_of() }}
                then datediff('day', t.due_date, {{ as_of() }})
            else 0
        end as days_late,
        case when t.status_as_of = 'done' then t.completed_date_as_of <= t.due_date end as completed_on_time,
        case when t.status_as_of = 'done' then t.error_count end as error_count,
        case when t.status_as_of = 'done' then t.outcome end as outcome,
        t.depends_on_task_id,
        u.status_as_of as upstream_status_as_of,
        coalesce(u.status_as_of in ('todo', 'in_progress'), false) as is_upstream_unfinished,
        cast(u.completed_date_as_of as date) as upstream_completed_date,
        b.input_fingerprint
    from stated as t
    inner join to_build as b on b.task_id = t.task_id
    left join upstream as u on u.task_id = t.depends_on_task_id
    left join staff as s on s.staff_id = t.assignee_id
)

select * from final
