-- Contracts with value, term, renewal chain and state as of the run date. A successor only counts
-- once it is signed (signed_date, else start_date) on or before the as-of date.
with recursive contracts as (
    select
        *,
        coalesce(signed_date, start_date) as effective_signed_date
    from {{ ref('stg_contracts') }}
),

-- Walk previous_contract_id back to the first contract; depth = renewals before this one.
chain (contract_id, ancestor_id, depth) as (
    select contract_id, previous_contract_id, 0
    from contracts
    union all
    select chain.contract_id, prev.previous_contract_id, chain.depth + 1
    from chain
    inner join contracts as prev on prev.contract_id = chain.ancestor_id
    where chain.depth < 100
),

chain_depth as (
    select
        contract_id,
        max(case when ancestor_id is not null then depth + 1 else depth end) as renewal_count
    from chain
    group by contract_id
),

successors as (
    select
        previous_contract_id as contract_id,
        contract_id as successor_id,
        start_date as successor_start_date,
        row_number() over (
            partition by previous_contract_id order by start_date, contract_id
        ) as successor_rank
    from contracts
    where previous_contract_id is not null
      and effective_signed_date <= {{ as_of() }}
),

valued as (
    select
        c.*,
        case c.billing_cycle
            when 'monthly' then 12
            when 'quarterly' then 4
            when 'semiannual' then 2
            when 'annual' then 1
        end as cycles_per_year,
        -- months from start to end + 1 day, a leftover of 15+ days rounding up (2026-01-20..12-31 = 11)
        (
            extract(year from age(c.end_date + 1, c.start_date)) * 12
            + extract(month from age(c.end_date + 1, c.start_date))
            + case when extract(day from age(c.end_date + 1, c.start_date)) >= 15 then 1 else 0 end
        )::integer as term_months,
        case
            when c.effective_signed_date > {{ as_of() }} then 'not_signed'
            when c.start_date > {{ as_of() }} then 'signed_not_started'
            when c.status = 'terminated' and cast(c.updated_at as date) <= {{ as_of() }} then 'terminated'
            when c.end_date < {{ as_of() }} then 'expired'
            else 'active'
        end as state_as_of
    from contracts as c
),

final as (
    select
        v.contract_id,
        v.client_id,
        v.service_type,
        {{ enum_label('service_type', 'v.service_type') }} as service_type_cn,
        v.billing_cycle,
        {{ enum_label('billing_cycle', 'v.billing_cycle') }} as billing_cycle_cn,
        v.fee_per_cycle,
        v.cycles_per_year,
        cast(coalesce(v.fee_per_cycle * v.cycles_per_year, v.fee_per_cycle) as decimal(18, 2))
            as annualized_value,
        v.start_date,
        v.end_date,
        v.signed_date,
        v.effective_signed_date,
        v.term_months,
        v.status as source_status,
        v.state_as_of,
        case v.state_as_of
            when 'not_signed' then '未签约'
            when 'signed_not_started' then '已签约未开始'
            when 'active' then '执行中'
            when 'expired' then '已到期'
            when 'terminated' then '已终止'
        end as state_as_of_cn,
        v.state_as_of = 'active' as is_in_force,
        v.state_as_of in ('expired', 'terminated') as is_ended,
        v.previous_contract_id,
        v.previous_contract_id is not null as is_renewal,
        d.renewal_count,
        s.successor_id as renewed_by_contract_id,
        s.successor_start_date as renewed_by_start_date,
        coalesce(s.successor_start_date <= v.end_date + 30, false) as renewed_within_30d,
        {{ as_of() }} > v.end_date + 30 as renewal_window_closed,
        strftime(v.effective_signed_date, '%Y-%m') as signed_period,
        strftime(v.end_date, '%Y-%m') as end_period
    from valued as v
    left join chain_depth as d on d.contract_id = v.contract_id
    left join successors as s on s.contract_id = v.contract_id and s.successor_rank = 1
)

select * from final
