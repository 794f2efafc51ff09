-- Nothing lost or double counted: per grain and period, tasks_completed summed over staff equals
-- the done tasks of fct_tasks completed in that period; the stage columns add up to the total; the
-- top of each firm leaderboard holds the period's maximum.
{%- set stages = ['signing', 'document_collection', 'bookkeeping', 'tax_filing', 'fee_collection',
                  'registration', 'other'] %}
with mart as (
    select * from {{ ref('mart_workload_staff_period') }}
),

done as (
    select completed_date from {{ ref('fct_tasks') }} where status_as_of = 'done'
),

expected as (
    select 'month' as period_grain, date_trunc('month', completed_date)::date as period_start, count(*) as n
    from done group by 2
    union all
    select 'week', date_trunc('week', completed_date)::date, count(*) from done group by 2
    union all
    select 'day', completed_date, count(*) from done
    where completed_date > {{ as_of() }} - {{ var('workload_day_grain_days') }}
    group by 2
),

actual as (
    select period_grain, period_start, sum(tasks_completed) as n, max(tasks_completed) as top
    from mart group by 1, 2
)

select coalesce(e.period_grain, a.period_grain) as period_grain, coalesce(e.period_start, a.period_start) as period_start,
       'period total differs from fct_tasks' as problem
from expected as e
full outer join actual as a on a.period_grain = e.period_grain and a.period_start = e.period_start
where coalesce(e.n, 0) <> coalesce(a.n, 0)

union all

select period_grain, period_start, 'stages do not add up to tasks_completed'
from mart
where tasks_completed <> {% for stage in stages %}completed_{{ stage }}{{ ' + ' if not loop.last }}{% endfor %}

union all

select m.period_grain, m.period_start, 'rank 1 is not the maximum'
from mart as m
inner join actual as a on a.period_grain = m.period_grain and a.period_start = m.period_start
where m.rank_in_firm = 1 and m.tasks_completed <> a.top
