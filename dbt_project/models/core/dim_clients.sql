-- Clients with labels, owners and their state as of the run date, derived from contract dates
-- (the source status is kept as source_status).
with clients as (
    select * from {{ ref('stg_clients') }}
),

staff as (
    select * from {{ ref('dim_staff') }}
),

contract_summary as (
    select
        client_id,
        count(*) filter (where state_as_of = 'active') as contracts_in_force,
        count(*) filter (where start_date <= {{ as_of() }} and state_as_of <> 'not_signed')
            as contracts_started,
        cast(coalesce(sum(annualized_value) filter (where state_as_of = 'active'), 0) as decimal(18, 2))
            as annualized_value_in_force,
        min(start_date) filter (where state_as_of <> 'not_signed') as first_contract_start_date,
        max(end_date) filter (where state_as_of <> 'not_signed') as last_contract_end_date
    from {{ ref('dim_contracts') }}
    group by client_id
),

stated as (
    select
        c.*,
        coalesce(cs.contracts_in_force, 0) as contracts_in_force,
        coalesce(cs.contracts_started, 0) as contracts_started,
        coalesce(cs.annualized_value_in_force, 0) as annualized_value_in_force,
        cs.first_contract_start_date,
        cs.last_contract_end_date,
        case
            when c.signed_date > {{ as_of() }} then 'not_signed'
            when coalesce(cs.contracts_in_force, 0) > 0 then 'active'
            -- no contract history known: nothing to contradict the source system
            when coalesce(cs.contracts_started, 0) = 0 then c.status
            else 'churned'
        end as status_as_of
    from clients as c
    left join contract_summary as cs on cs.client_id = c.client_id
),

final as (
    select
        s.client_id,
        s.client_name,
        s.credit_code is not null as has_credit_code,
        s.taxpayer_type,
        {{ enum_label('taxpayer_type', 's.taxpayer_type') }} as taxpayer_type_cn,
        s.industry,
        {{ enum_label('industry', 's.industry') }} as industry_cn,
        s.region,
        s.acquisition_source,
        s.signed_date,
        s.accountant_id,
        a.staff_name as accountant_name,
        a.team as team,
        s.sales_id,
        sa.staff_name as sales_name,
        s.status as source_status,
        s.status_as_of,
        case s.status_as_of
            when 'not_signed' then '未签约'
            else {{ enum_label('client_status', 's.status_as_of') }}
        end as status_as_of_cn,
        s.status_as_of = 'active' as is_active,
        case when s.signed_date <= {{ as_of() }} then datediff('month', s.signed_date, {{ as_of() }}) end
            as tenure_months,
        case when s.signed_date <= {{ as_of() }} then datediff('day', s.signed_date, {{ as_of() }}) end
            as tenure_days,
        s.contracts_in_force,
        s.contracts_started,
        s.annualized_value_in_force,
        s.first_contract_start_date,
        s.last_contract_end_date
    from stated as s
    left join staff as a on a.staff_id = s.accountant_id
    left join staff as sa on sa.staff_id = s.sales_id
)

select * from final
