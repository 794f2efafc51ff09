-- One row per day from 2020-01-01 to as_of + 400 days (room for due dates and next-year planning).
-- Workdays come from the cn_calendar seed; days beyond its range fall back to Mon-Fri.
with spine as (
    select cast(t.d as date) as date_day
    from range(date '2020-01-01', {{ as_of() }} + 401, interval 1 day) as t(d)
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
        t.deadline as month_tax_deadline,
        t.deadline_source as month_tax_deadline_source,
        f.date_day = t.deadline as is_tax_deadline,
        f.date_day <= {{ as_of() }} as is_on_or_before_as_of
    from flagged as f
    left join tax_deadlines as t on t.year = f.year and t.month = f.month
)

select * from final
order by date_day
