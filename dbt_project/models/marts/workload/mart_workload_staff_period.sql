-- 工作量排行: per staff member × period (day, ISO week, month) the tasks they completed, by stage,
-- with clients served, leaderboard ranks, error rate, filing success rate and on-time rate.
-- A task counts in the period of its completed_date (as of the date); the day grain covers only
-- the last `workload_day_grain_days` days (default 90) to keep the table small.
-- Incremental by period (macros/period_fingerprints.sql): a night rebuilds only the periods whose
-- fingerprint (int_task_completion_period_fingerprints: tasks, staff list, partial flag) changed.
{%- set day_grain_days = var('workload_day_grain_days') %}
{%- set stages = ['signing', 'document_collection', 'bookkeeping', 'tax_filing', 'fee_collection',
                  'registration', 'other'] %}

with staff as (
    select * from {{ ref('dim_staff') }}
),

-- the periods to build: every period (from the first completion to the as-of date) on a full build,
-- the new and changed ones on an incremental night
periods as (
    select period_grain, period_start, period_end
    from {{ ref('int_task_completion_period_fingerprints') }}
    {{ rebuilt_periods_filter('int_task_completion_period_fingerprints', 'period_key', 'period_key') }}
),

-- each completed task once per grain, keyed by the start of the period holding its completed_date;
-- fct_tasks is read by each grain directly, not through one shared CTE, which DuckDB would materialize
-- whole (every done task) before the periods' filter applies
completed_by_grain as (
    select 'day' as period_grain, completed_date as period_start, *
    from {{ ref('fct_tasks') }}
    where status_as_of = 'done' and completed_date > {{ as_of() }} - {{ day_grain_days }}
    union all
    select 'week', date_trunc('week', completed_date)::date, *
    from {{ ref('fct_tasks') }}
    where status_as_of = 'done'
    union all
    select 'month', date_trunc('month', completed_date)::date, *
    from {{ ref('fct_tasks') }}
    where status_as_of = 'done'
),

per_staff as (
    select
        period_grain,
        period_start,
        assignee_id as staff_id,
        {%- for stage in stages %}
        count(*) filter (where stage = '{{ stage }}') as completed_{{ stage }},
        {%- endfor %}
        count(*) as tasks_completed,
        count(distinct client_id) as clients_served,
        coalesce(sum(error_count) filter (where stage = 'bookkeeping'), 0) as error_count,
        count(*) filter (where stage = 'tax_filing' and outcome is not null) as filings_with_outcome,
        count(*) filter (where stage = 'tax_filing' and outcome = 'success') as filings_succeeded,
        count(*) filter (where completed_on_time) as completed_on_time
    from completed_by_grain as c
    where exists (
        select 1 from periods as p where p.period_grain = c.period_grain and p.period_start = c.period_start
    )
    group by period_grain, period_start, assignee_id
),

-- every staff member employed during the period gets a row (0 completed ranks last), plus anyone
-- with completions outside their recorded employment
staff_periods as (
    select p.period_grain, p.period_start, p.period_end, s.staff_id
    from periods as p
    cross join staff as s
    left join per_staff as w
        on w.period_grain = p.period_grain and w.period_start = p.period_start and w.staff_id = s.staff_id
    where w.staff_id is not null
       or (
           (s.hire_date is null or s.hire_date <= p.period_end)
           and (s.leave_date is null or s.leave_date > p.period_start)
       )
),

measured as (
    select
        sp.period_grain,
        sp.period_start,
        sp.period_end,
        s.staff_id,
        s.staff_name,
        s.role,
        s.role_cn,
        s.team,
        {%- for stage in stages %}
        coalesce(w.completed_{{ stage }}, 0) as completed_{{ stage }},
        {%- endfor %}
        coalesce(w.tasks_completed, 0) as tasks_completed,
        coalesce(w.clients_served, 0) as clients_served,
        coalesce(w.error_count, 0) as error_count,
        coalesce(w.filings_with_outcome, 0) as filings_with_outcome,
        coalesce(w.filings_succeeded, 0) as filings_succeeded,
        coalesce(w.completed_on_time, 0) as completed_on_time
    from staff_periods as sp
    inner join staff as s on s.staff_id = sp.staff_id
    left join per_staff as w
        on w.period_grain = sp.period_grain and w.period_start = sp.period_start and w.staff_id = sp.staff_id
),

final as (
    select
        period_grain || '|' || strftime(period_start, '%Y-%m-%d') || '|' || staff_id as staff_period_key,
        period_grain,
        case period_grain when 'day' then '日' when 'week' then '周' else '月' end as period_grain_cn,
        period_start,
        period_end,
        case period_grain
            when 'day' then strftime(period_start, '%Y-%m-%d')
            when 'week' then strftime(period_start, '%G-W%V')
            else strftime(period_start, '%Y-%m')
        end as period_label,
        period_end > {{ as_of() }} as is_partial_period,
        staff_id,
        staff_name,
        role,
        role_cn,
        team,
        {%- for stage in stages %}
        cast(completed_{{ stage }} as integer) as completed_{{ stage }},
        {%- endfor %}
        cast(tasks_completed as integer) as tasks_completed,
        cast(clients_served as integer) as clients_served,
        cast(rank() over (
            partition by period_grain, period_start, team order by tasks_completed desc
        ) as integer) as rank_in_team,
        cast(rank() over (
            partition by period_grain, period_start order by tasks_completed desc
        ) as integer) as rank_in_firm,
        cast(error_count as integer) as error_count,
        cast(case when completed_bookkeeping > 0 then error_count / completed_bookkeeping end as double)
            as error_rate,
        cast(filings_with_outcome as integer) as filings_with_outcome,
        cast(filings_succeeded as integer) as filings_succeeded,
        cast(case when filings_with_outcome > 0 then filings_succeeded / filings_with_outcome end as double)
            as filing_success_rate,
        cast(completed_on_time as integer) as completed_on_time,
        cast(case when tasks_completed > 0 then completed_on_time / tasks_completed end as double)
            as on_time_rate
    from measured
)

select * from final
