-- One row per day from 1 January of the first year with data (the earliest date in the raw exports:
-- invoices, payments, contracts, client sign-ups, tasks, feedback, staff hires; or var calendar_start_date
-- when set) to as_of + 400 days (room for due dates, the forecast horizon and next-year planning).
-- Workdays come from the cn_calendar seed; days beyond its range fall back to Mon-Fri, and tax
-- deadlines beyond the deadline seeds to the first workday on or after the 15th (weekday rule).
with data_dates as (
    select min(issue_date) as first_date from {{ ref('stg_invoices') }}
    union all select min(paid_date) from {{ ref('stg_payments') }}
    union all select min(least(start_date, coalesce(signed_date, start_date))) from {{ ref('stg_contracts') }}
    union all select min(signed_date) from {{ ref('stg_clients') }}
    union all select min(due_date) from {{ ref('stg_tasks') }}
    union all select min(feedback_date) from {{ ref('stg_feedback') }}
    union all select min(hire_date) from {{ ref('stg_staff') }}
),

bounds as (
    select
        date_trunc('year', coalesce(
            {%- if var('calendar_start_date') %} date '{{ var('calendar_start_date') }}',{% endif %}
            least(min(first_date), {{ as_of() }}),
            {{ as_of() }}
        ))::date as first_day
    from data_dates
),

spine as (
    select cast(t.d as date) as date_day
    from bounds as b
    cross join range(b.first_day, {{ as_of() }} + 401, interval 1 day) as t(d)
),

calendar as (
    select * from {{ ref('cn_calendar') }}
),

-- Official SAT date where published, else the SAT rule computed on the working calendar
-- (orchestration/tax_calendar.py → seed cn_tax_deadline_rule).
tax_deadlines as (
    select
        coalesce(o.year, r.year) as year,
        coalesce(o.month, r.month) as month,
        coalesce(o.deadline, r.deadline) as deadline,
        case when o.deadline is not null then 'official' else 'rule' end as deadline_source
    from {{ ref('cn_tax_deadline_rule') }} as r
    full outer join {{ ref('cn_tax_deadlines') }} as o on o.year = r.year and o.month = r.month
),

days as (
    select
        s.date_day,
        extract(year from s.date_day)::integer as year,
        extract(month from s.date_day)::integer as month,
        extract(quarter from s.date_day)::integer as quarter,
        strftime(s.date_day, '%Y-%m') as period,
        extract(isoyear from s.date_day)::integer as iso_year,
        extract(week from s.date_day)::integer as iso_week,
        extract(isodow from s.date_day)::integer as weekday,
        extract(isodow from s.date_day) >= 6 as is_weekend,
        date_trunc('month', s.date_day)::date as month_start,
        last_day(s.date_day) as month_end,
        c.date is not null as in_seed,
        c.is_workday as seed_is_workday,
        c.is_holiday as seed_is_holiday,
        c.is_makeup_workday as seed_is_makeup_workday,
        c.holiday_name as seed_holiday_name
    from spine as s
    left join calendar as c on c.date = s.date_day
),

flagged as (
    select
        date_day,
        year,
        month,
        quarter,
        period,
        iso_year,
        iso_week,
        weekday,
        ['星期一', '星期二', '星期三', '星期四', '星期五', '星期六', '星期日'][weekday] as weekday_cn,
        is_weekend,
        month_start,
        month_end,
        case when in_seed then seed_is_workday else not is_weekend end as is_workday,
        coalesce(seed_is_holiday, false) as is_holiday,
        coalesce(seed_is_makeup_workday, false) as is_makeup_workday,
        nullif(seed_holiday_name, '') as holiday_name,
        case when in_seed then 'cn_calendar' else 'weekday_rule' end as calendar_source
    from days
),

-- months the deadline seeds do not cover: the first workday on or after the 15th
weekday_rule_deadlines as (
    select year, month, min(date_day) as deadline
    from flagged
    where extract(day from date_day) >= 15 and is_workday
    group by year, month
),

final as (
    select
        f.*,
        case
            when f.is_workday
                then count(*) filter (where f.is_workday) over (
                    partition by f.month_start order by f.date_day
                    rows between unbounded preceding and current row
                )
        end::integer as workday_of_month,
        (count(*) filter (where f.is_workday) over (partition by f.month_start))::integer
            as workdays_in_month,
        coalesce(t.deadline, w.deadline) as month_tax_deadline,
        coalesce(t.deadline_source, 'weekday_rule') as month_tax_deadline_source,
        f.date_day = coalesce(t.deadline, w.deadline) as is_tax_deadline,
        f.date_day <= {{ as_of() }} as is_on_or_before_as_of
    from flagged as f
    left join tax_deadlines as t on t.year = f.year and t.month = f.month
    left join weekday_rule_deadlines as w on w.year = f.year and w.month = f.month
)

select * from final
order by date_day
