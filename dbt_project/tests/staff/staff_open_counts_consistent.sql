-- Staff counts add up: open = todo + in progress, overdue within open, and every open task of the
-- firm is held by exactly one listed person.
with staff as (
    select * from {{ ref('mart_staff_progress') }}
),

firm as (
    select count(*) as open_tasks from {{ ref('fct_tasks') }} where is_open
)

select staff_id, 'row' as problem
from staff
where open_count <> todo_count + in_progress_count
   or overdue_count > open_count
   or (overdue_count = 0) <> (max_days_overdue = 0)
   or (expected_completion_date is not null) <> (open_count > 0 and done_trailing_window_count > 0)

union all

select 'firm', 'open tasks of staff <> open tasks of the firm'
from firm
where firm.open_tasks <> (select coalesce(sum(open_count), 0) from staff)
