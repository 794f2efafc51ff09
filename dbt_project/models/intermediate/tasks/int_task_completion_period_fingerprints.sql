-- The periods of mart_workload_staff_period (day within the last `workload_day_grain_days` days, ISO
-- week, month; from the first completion to the as-of date), each with one fingerprint
-- (macros/period_fingerprints.sql): the set of tasks completed in it (done as of the date) with their
-- task fingerprints, the staff list the mart gives rows to, the partial-period flag, and the SQL. A past
-- period of settled, unchanged tasks keeps it: the mart keeps its rows.
{%- set day_grain_days = var('workload_day_grain_days') %}

with completed as (
    select
        task_id,
        input_fingerprint,
        completed_date
    from {{ ref('fct_tasks') }}
    where status_as_of = 'done'
),

calendar as (
    select * from {{ ref('dim_date') }}
    where date_day <= {{ as_of() }}
      and date_day >= (select min(c.completed_date) from completed as c)
),

periods as (
    select 'day' as period_grain, date_day as period_start, date_day as period_end
    from calendar
    where date_day > {{ as_of() }} - {{ day_grain_days }}
    union all
    select distinct
        'week' as period_grain,
        date_trunc('week', date_day)::date as period_start,
        date_trunc('week', date_day)::date + 6 as period_end
    from calendar
    union all
    select distinct 'month' as period_grain, month_start as period_start, month_end as period_end
    from calendar
),

completed_by_grain as (
    select 'day' as period_grain, completed_date as period_start, task_id, input_fingerprint
    from completed
    where completed_date > {{ as_of() }} - {{ day_grain_days }}
    union all
    select
        'week' as period_grain,
        date_trunc('week', completed_date)::date as period_start,
        task_id,
        input_fingerprint
    from completed
    union all
    select
        'month' as period_grain,
        date_trunc('month', completed_date)::date as period_start,
        task_id,
        input_fingerprint
    from completed
),

task_sets as (
    select period_grain, period_start, {{ task_set_hash() }} as task_set
    from completed_by_grain
    group by period_grain, period_start
),

-- the mart gives every staff member employed in a period a row, with their name, role and team
staff as (
    select coalesce(sum(hash(staff_id, staff_name, role, role_cn, team, hire_date, leave_date)), 0) as staff_hash
    from {{ ref('dim_staff') }}
),

final as (
    select
        p.period_grain || '|' || strftime(p.period_start, '%Y-%m-%d') as period_key,
        p.period_grain,
        p.period_start,
        p.period_end,
        hash(
            '{{ models_code_md5(["int_task_completion_period_fingerprints", "mart_workload_staff_period"]) }}',
            s.staff_hash,
            t.task_set,
            p.period_end > {{ as_of() }}
        ) as input_fingerprint
    from periods as p
    cross join staff as s
    left join task_sets as t on t.period_grain = p.period_grain and t.period_start = p.period_start
)

select * from final
