-- 征期日历: one row per filing month from the first month of dim_date (1 January of the first year with
-- data) to the as-of month + 3, deadline from dim_date: the official SAT date where published, else the
-- SAT rule seed, else (months before or after both seeds, e.g. a history from 2012) the weekday rule.
with months as (
    select distinct
        year,
        month,
        period,
        month_start,
        month_tax_deadline as deadline,
        month_tax_deadline_source as deadline_source
    from {{ ref('dim_date') }}
    where month_start <= date_trunc('month', {{ as_of() }}) + interval 3 month
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
        case m.deadline_source
            when 'official' then '官方公布'
            when 'rule' then '规则推算'
            when 'weekday_rule' then '估算（未计节假日）'
        end as deadline_source_cn,
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
