-- 近12个月续费率（按负责会计 / 行业 / 全公司）: contracts that ended in the trailing 12 months
-- (end_date in (as_of − 12 months, as_of]) under the same rule as mart_renewal_rate_monthly
-- (doc metric_renewal_rate: settled = renewed within 30 days or the 30-day window has closed; rate =
-- renewed / settled), per the client's responsible accountant (as of the run date), per industry and
-- for the firm. Lets pages show a renewal rate by staff member without summing monthly rows.
{%- set include_one_off = var('renewal_include_one_off') %}

with contracts as (
    select * from {{ ref('dim_contracts') }}
    where state_as_of not in ('not_signed', 'signed_not_started')
      and end_date <= {{ as_of() }}
      and end_date > {{ as_of() }} - interval 12 month
    {%- if not include_one_off %}
      and billing_cycle <> 'one_off'
    {%- endif %}
),

ended as (
    select
        coalesce(c.accountant_id, 'unassigned') as accountant_id,
        coalesce(c.accountant_name, '未分配') as accountant_name,
        coalesce(c.team, '未分配') as team,
        coalesce(c.industry, 'unknown') as industry,
        coalesce(c.industry_cn, '未知') as industry_cn,
        k.renewal_window_closed or k.renewed_within_30d as is_settled,
        k.renewed_within_30d
    from contracts as k
    left join {{ ref('dim_clients') }} as c on c.client_id = k.client_id
),

counted as (
    select 'staff' as dimension_type, accountant_id as dimension_value, accountant_name as dimension_value_cn,
           any_value(team) as team, count(*) filter (where is_settled) as contracts_ended,
           count(*) filter (where renewed_within_30d) as contracts_renewed,
           count(*) filter (where not is_settled) as contracts_pending
    from ended group by accountant_id, accountant_name
    union all
    select 'industry', industry, industry_cn, null, count(*) filter (where is_settled),
           count(*) filter (where renewed_within_30d), count(*) filter (where not is_settled)
    from ended group by industry, industry_cn
    union all
    select 'firm', 'all', '全公司', null, count(*) filter (where is_settled),
           count(*) filter (where renewed_within_30d), count(*) filter (where not is_settled)
    from ended
),

final as (
    select
        dimension_type || '|' || dimension_value as rate_key,
        dimension_type,
        case dimension_type when 'staff' then '负责会计' when 'industry' then '行业' else '全公司' end
            as dimension_type_cn,
        dimension_value,
        dimension_value_cn,
        team,
        cast(contracts_ended as integer) as contracts_ended,
        cast(contracts_renewed as integer) as contracts_renewed,
        cast(contracts_pending as integer) as contracts_pending,
        cast(case when contracts_ended > 0 then contracts_renewed / contracts_ended end as double) as renewal_rate
    from counted
)

select * from final
