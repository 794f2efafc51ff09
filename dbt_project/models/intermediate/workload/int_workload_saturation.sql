-- 饱和度 per accountant × work month: the client-periods of bookkeeping they carry, their capacity and
-- whether they are saturated (doc metric_workload_saturation), defined once here for
-- mart_workload_saturation (which adds the error-rate comparison) and the staff-saturation alert.
-- The work month of a task is its due month.
{%- set multiplier = var('saturation_multiplier') %}

with bookkeeping_tasks as (
    select * from {{ ref('fct_tasks') }}
    where stage = 'bookkeeping'
      and status_as_of <> 'cancelled'
      and due_date <= last_day({{ as_of() }})
),

accountants as (
    select * from {{ ref('dim_staff') }}
    where role = 'accountant'
),

months as (
    select distinct period, month_start, month_end
    from {{ ref('dim_date') }}
    where date_day <= {{ as_of() }}
      and date_day >= (select min(bt.due_date) from bookkeeping_tasks as bt)
),

-- distinct client × service month pairs first, then counted: one grouping on the columns instead of a
-- count(distinct) over a concatenated string per task (a pair with a null part counts nowhere, as before)
loads as (
    select
        due_period as period,
        assignee_id as staff_id,
        count(*) filter (where client_id is not null and client_period is not null) as load_client_periods
    from (
        select distinct due_period, assignee_id, client_id, coalesce(period, due_period) as client_period
        from bookkeeping_tasks
    ) as pairs
    group by due_period, assignee_id
),

-- accountants employed during the month, plus anyone carrying load outside recorded employment
accountant_months as (
    select m.period, m.month_start, m.month_end, a.staff_id, a.staff_name, a.team, a.monthly_capacity,
           coalesce(l.load_client_periods, 0) as load_client_periods
    from months as m
    cross join accountants as a
    left join loads as l on l.period = m.period and l.staff_id = a.staff_id
    where l.staff_id is not null
       or (
           (a.hire_date is null or a.hire_date <= m.month_end)
           and (a.leave_date is null or a.leave_date > m.month_start)
       )
),

team_medians as (
    select period, team, median(load_client_periods) as team_median_load
    from accountant_months
    where load_client_periods > 0
    group by period, team
),

flagged as (
    select
        am.*,
        tm.team_median_load,
        coalesce(am.monthly_capacity, tm.team_median_load * {{ multiplier }}) as capacity,
        case when am.monthly_capacity is not null then 'monthly_capacity'
             when tm.team_median_load is not null then 'team_median'
        end as capacity_source,
        coalesce(am.load_client_periods > coalesce(am.monthly_capacity, tm.team_median_load * {{ multiplier }}),
                 false) as is_over_capacity,
        coalesce(am.load_client_periods > tm.team_median_load * {{ multiplier }}, false) as is_over_team_median
    from accountant_months as am
    left join team_medians as tm on tm.period = am.period and tm.team is not distinct from am.team
),

final as (
    select
        *,
        is_over_capacity or is_over_team_median as is_saturated
    from flagged
)

select * from final
