-- 续费率: contracts by the month they ended, and how many were renewed within 30 days. A contract
-- counts once its outcome is settled (renewed within 30 days, or the 30-day window has closed);
-- the rest are reported as pending. THE renewal_rate formula (doc metric_renewal_rate) lives here;
-- rows come at four scopes (grouping sets) so every other model selects the rate, never recomputes it.
{%- set include_one_off = var('renewal_include_one_off') %}

with contracts as (
    select * from {{ ref('dim_contracts') }}
    where state_as_of not in ('not_signed', 'signed_not_started')
      and end_date <= {{ as_of() }}
    {%- if not include_one_off %}
      and billing_cycle <> 'one_off'
    {%- endif %}
),

clients as (
    select client_id, industry, industry_cn from {{ ref('dim_clients') }}
),

ended as (
    select
        k.end_period as period,
        k.service_type,
        k.service_type_cn,
        coalesce(c.industry, 'unknown') as industry,
        coalesce(c.industry_cn, '未知') as industry_cn,
        k.renewal_window_closed or k.renewed_within_30d as is_settled,
        k.renewed_within_30d
    from contracts as k
    left join clients as c on c.client_id = k.client_id
),

aggregated as (
    select
        period,
        case
            when grouping(service_type) = 0 and grouping(industry) = 0 then 'service_type_industry'
            when grouping(service_type) = 0 then 'service_type'
            when grouping(industry) = 0 then 'industry'
            else 'firm'
        end as scope,
        coalesce(service_type, 'all') as service_type,
        coalesce(service_type_cn, '全部') as service_type_cn,
        coalesce(industry, 'all') as industry,
        coalesce(industry_cn, '全部') as industry_cn,
        count(*) filter (where is_settled) as contracts_ended,
        count(*) filter (where renewed_within_30d) as contracts_renewed,
        count(*) filter (where not is_settled) as contracts_pending
    from ended
    group by grouping sets (
        (period, service_type, service_type_cn, industry, industry_cn),
        (period, service_type, service_type_cn),
        (period, industry, industry_cn),
        (period)
    )
),

final as (
    select
        period || '|' || service_type || '|' || industry as rate_key,
        period,
        cast(strptime(period || '-01', '%Y-%m-%d') as date) as month_start,
        scope,
        service_type,
        service_type_cn,
        industry,
        industry_cn,
        cast(contracts_ended as integer) as contracts_ended,
        cast(contracts_renewed as integer) as contracts_renewed,
        cast(contracts_pending as integer) as contracts_pending,
        cast(case when contracts_ended > 0 then contracts_renewed / contracts_ended end as double)
            as renewal_rate
    from aggregated
)

select * from final
