-- 公司月度续费率: one row per month (no gaps) from the first month a contract ended to the as-of
-- month; selects the firm-scope rows of mart_renewal_rate_monthly (the rate is not recomputed here).
with firm_rates as (
    select * from {{ ref('mart_renewal_rate_monthly') }}
    where scope = 'firm'
),

months as (
    select distinct d.period, d.month_start
    from {{ ref('dim_date') }} as d
    where d.date_day <= {{ as_of() }}
      and d.period >= (select min(period) from firm_rates)
),

final as (
    select
        m.period,
        m.month_start,
        m.period = strftime({{ as_of() }}, '%Y-%m') as is_current_month,
        cast(coalesce(r.contracts_ended, 0) as integer) as contracts_ended,
        cast(coalesce(r.contracts_renewed, 0) as integer) as contracts_renewed,
        cast(coalesce(r.contracts_pending, 0) as integer) as contracts_pending,
        r.renewal_rate
    from months as m
    left join firm_rates as r on r.period = m.period
)

select * from final
