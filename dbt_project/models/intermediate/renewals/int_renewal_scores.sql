-- 续约概率: the night's renewal scores (ml.renewal_scores, the dbt Python model) with labels,
-- shared by mart_renewal_scores, the renewal list (int_renewal_segments) and the alerts.
-- A firm where no contract has ended yet gets no probability (model_name rules_only): the renewal
-- marts then tier its contracts by their rules alone.
with scores as (
    select
        *,
        case
            when renewal_probability is null then 'rules_only'
            when renewal_probability < {{ var('renewal_low_probability') }} then 'low'
            when renewal_probability < {{ var('renewal_high_probability') }} then 'medium'
            else 'high'
        end as probability_band
    from {{ ref('renewal_scores') }}
    where as_of_date = {{ as_of() }}
),

final as (
    select
        s.contract_id,
        s.client_id,
        c.client_name,
        c.industry,
        c.industry_cn,
        k.service_type,
        k.service_type_cn,
        k.billing_cycle,
        k.billing_cycle_cn,
        s.end_date,
        (s.end_date - {{ as_of() }})::integer as days_to_end,
        k.annualized_value,
        s.renewal_probability,
        s.probability_band,
        case s.probability_band
            when 'rules_only' then '规则判断' when 'low' then '低' when 'medium' then '中' else '高'
        end as probability_band_cn,
        s.is_renewed,
        c.accountant_id,
        c.accountant_name,
        c.sales_id,
        c.sales_name,
        s.model_name
    from scores as s
    left join {{ ref('dim_contracts') }} as k on k.contract_id = s.contract_id
    left join {{ ref('dim_clients') }} as c on c.client_id = s.client_id
)

select * from final
