-- Staff progress now: one row per staff member who is employed on the as-of date or still holds
-- open tasks / finished some this month. Counts come straight from fct_tasks; the blocking detail
-- mart lists the rows behind blocked_count and blocking_count (a singular test ties them).
-- fct_tasks is read where needed, not through one shared CTE: DuckDB materializes a CTE read more than
-- once (every task with every column) before any filter applies.
with staff as (
    select * from {{ ref('dim_staff') }}
),

own as (
    select
        assignee_id as staff_id,
        count(*) filter (where status_as_of = 'todo') as todo_count,
        count(*) filter (where status_as_of = 'in_progress') as in_progress_count,
        count(*) filter (where is_open) as open_count,
        count(*) filter (where is_overdue) as overdue_count,
        max(days_late) filter (where is_overdue) as max_days_overdue,
        max(due_date) filter (where is_open) as latest_open_due_date,
        count(*) filter (
            where status_as_of = 'done' and completed_date >= date_trunc('month', {{ as_of() }})
        ) as done_this_month_count,
        count(*) filter (
            where status_as_of = 'done'
              and completed_date > {{ as_of() }} - interval {{ var('staff_pace_window_days') }} day
        ) as done_trailing_window_count,
        count(*) filter (where is_open and is_upstream_unfinished) as blocked_count
    from {{ ref('fct_tasks') }}
    group by assignee_id
),

blocked as (
    select assignee_id, depends_on_task_id from {{ ref('fct_tasks') }}
    where is_open and is_upstream_unfinished
),

-- Others' open tasks waiting on an unfinished upstream task held by this person.
blocking as (
    select
        u.assignee_id as staff_id,
        count(*) as blocking_count,
        count(distinct b.assignee_id) as blocking_people_count
    from blocked as b
    inner join {{ ref('fct_tasks') }} as u on u.task_id = b.depends_on_task_id
    where b.assignee_id <> u.assignee_id
    group by u.assignee_id
),

combined as (
    select
        s.staff_id,
        s.staff_name,
        s.role,
        s.role_cn,
        s.team,
        s.is_active,
        coalesce(o.todo_count, 0) as todo_count,
        coalesce(o.in_progress_count, 0) as in_progress_count,
        coalesce(o.open_count, 0) as open_count,
        coalesce(o.overdue_count, 0) as overdue_count,
        coalesce(o.max_days_overdue, 0) as max_days_overdue,
        coalesce(o.done_this_month_count, 0) as done_this_month_count,
        coalesce(o.done_trailing_window_count, 0) as done_trailing_window_count,
        o.latest_open_due_date,
        coalesce(o.blocked_count, 0) as blocked_count,
        coalesce(bl.blocking_count, 0) as blocking_count,
        coalesce(bl.blocking_people_count, 0) as blocking_people_count
    from staff as s
    left join own as o on o.staff_id = s.staff_id
    left join blocking as bl on bl.staff_id = s.staff_id
    where s.is_active or coalesce(o.open_count, 0) > 0 or coalesce(o.done_this_month_count, 0) > 0
),

paced as (
    select
        *,
        cast(done_trailing_window_count as double) / {{ var('staff_pace_window_days') }}
            as daily_completion_pace,
        case
            when open_count > 0 and done_trailing_window_count > 0
                then cast(ceil(
                    open_count * {{ var('staff_pace_window_days') }} / done_trailing_window_count
                ) as integer)
        end as days_to_clear
    from combined
),

final as (
    select
        staff_id,
        staff_name,
        role,
        role_cn,
        team,
        is_active,
        cast(todo_count as integer) as todo_count,
        cast(in_progress_count as integer) as in_progress_count,
        cast(open_count as integer) as open_count,
        cast(done_this_month_count as integer) as done_this_month_count,
        cast(overdue_count as integer) as overdue_count,
        cast(max_days_overdue as integer) as max_days_overdue,
        cast(done_trailing_window_count as integer) as done_trailing_window_count,
        daily_completion_pace,
        days_to_clear,
        cast({{ as_of() }} + days_to_clear as date) as expected_completion_date,
        latest_open_due_date,
        cast(blocked_count as integer) as blocked_count,
        cast(blocking_count as integer) as blocking_count,
        cast(blocking_people_count as integer) as blocking_people_count
    from paced
)

select * from final
