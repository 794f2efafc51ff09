-- 征期日历: one row per filing month from 2022-01 (the first year of the official deadline seeds) or the first
-- month of dim_date if later, to the as-of month + 3, deadline from dim_date
-- (official SAT date where published, else the rule seed).
with months as (
    select distinct
        year,
        month,
        period,
        month_start,
        month_tax_deadline as deadline,
        month_tax_deadline_source as deadline_source
    from {{ ref('dim_date') }}
    where month_start between date '2022-01-01'
        and date_trunc('month', {{ as_of() }}) + interval 3 month
),

workdays as (
    select date_day from {{ ref('dim_date') }} where is_workday
),

final as (
    select
        m.period,
        m.year,
        m.month,
        m.deadline,
        m.deadline_source,
        case m.deadline_source when 'official' then '官方公布' else '规则推算' end as deadline_source_cn,
        (m.deadline - {{ as_of() }})::integer as days_remaining,
        (
            select count(*) from workdays as w
            where w.date_day between {{ as_of() }} and m.deadline
        )::integer as working_days_remaining,
        m.deadline < {{ as_of() }} as is_passed,
        m.period = strftime({{ as_of() }}, '%Y-%m') as is_current_month
    from months as m
)

select * from final
order by period
