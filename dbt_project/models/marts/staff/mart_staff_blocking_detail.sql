-- Blocked task → blocking task → blocking person, as of the date: one row per open task whose
-- upstream (depends_on) task exists and is still todo or in progress.
-- fct_tasks is read twice directly, not through one shared CTE: DuckDB materializes a CTE read twice
-- (every task with every column), before the filter to the few blocked tasks applies.
with clients as (
    select client_id, client_name from {{ ref('dim_clients') }}
),

blocked as (
    select * from {{ ref('fct_tasks') }}
    where is_open and is_upstream_unfinished
),

blocking as (
    select * from {{ ref('fct_tasks') }}
    where task_id in (select b.depends_on_task_id from blocked as b)
),

final as (
    select
        b.task_id as blocked_task_id,
        b.client_id,
        c.client_name,
        b.period,
        b.service_type,
        b.service_type_cn,
        b.stage as blocked_stage,
        b.stage_cn as blocked_stage_cn,
        b.status_as_of as blocked_status,
        b.status_as_of_cn as blocked_status_cn,
        b.due_date as blocked_due_date,
        cast(b.days_late as integer) as blocked_days_late,
        b.assignee_id as blocked_staff_id,
        b.assignee_name as blocked_staff_name,
        b.assignee_team as blocked_team,
        u.task_id as blocking_task_id,
        u.stage as blocking_stage,
        u.stage_cn as blocking_stage_cn,
        u.status_as_of as blocking_status,
        u.status_as_of_cn as blocking_status_cn,
        u.due_date as blocking_due_date,
        cast(u.days_late as integer) as blocking_days_late,
        u.assignee_id as blocking_staff_id,
        u.assignee_name as blocking_staff_name,
        u.assignee_team as blocking_team,
        b.assignee_id = u.assignee_id as is_self_blocked
    from blocked as b
    inner join blocking as u on u.task_id = b.depends_on_task_id
    left join clients as c on c.client_id = b.client_id
)

select * from final
