-- Every collections measure as a dated event carrying the reporting dimensions, so month and
-- quarter rollups come from one place: billing (dated by issue_date), cash applied to invoices
-- (dated by applied_date) and invoices falling due (dated by due_date, only once due by as-of).
-- team = the team of the client's responsible accountant (dim_clients.team, as of the run date).
-- The three event kinds share one column list, every column named in every branch (union by position).
-- Stored summed per event date and dimensions (every measure is a sum: DECIMAL amounts and integer
-- counts, exact in any order), so the two readers roll up a few hundred thousand day rows instead of
-- every invoice, application and due date (~3.5 M event rows at 100,000 clients).
with invoices as (
    select
        i.*,
        c.taxpayer_type,
        c.taxpayer_type_cn,
        c.industry,
        c.industry_cn,
        c.team,
        coalesce(k.service_type, 'other') as service_type,
        coalesce(k.service_type_cn, '其他') as service_type_cn
    from {{ ref('fct_invoices') }} as i
    inner join {{ ref('dim_clients') }} as c on c.client_id = i.client_id
    left join {{ ref('dim_contracts') }} as k on k.contract_id = i.contract_id
    where not i.is_void
),

billed as (
    select
        issue_date as event_date,
        taxpayer_type, taxpayer_type_cn, industry, industry_cn, service_type, service_type_cn, team,
        amount as billed_amount,
        1 as billed_count,
        applied_amount as billed_collected_amount,
        case when is_fully_paid then days_to_pay end as days_to_pay,
        case when is_fully_paid then 1 else 0 end as paid_count,
        0.00 as collected_amount,
        0 as due_count,
        0 as due_paid_on_time_count
    from invoices
),

collected as (
    select
        a.applied_date as event_date,
        i.taxpayer_type, i.taxpayer_type_cn, i.industry, i.industry_cn, i.service_type, i.service_type_cn, i.team,
        0.00 as billed_amount,
        0 as billed_count,
        0.00 as billed_collected_amount,
        null as days_to_pay,
        0 as paid_count,
        a.applied_amount as collected_amount,
        0 as due_count,
        0 as due_paid_on_time_count
    from {{ ref('fct_payment_applications') }} as a
    inner join invoices as i on i.invoice_id = a.invoice_id
),

fell_due as (
    select
        due_date as event_date,
        taxpayer_type, taxpayer_type_cn, industry, industry_cn, service_type, service_type_cn, team,
        0.00 as billed_amount,
        0 as billed_count,
        0.00 as billed_collected_amount,
        null as days_to_pay,
        0 as paid_count,
        0.00 as collected_amount,
        1 as due_count,
        case when paid_on_time then 1 else 0 end as due_paid_on_time_count
    from invoices
    where due_date <= {{ as_of() }}
),

events as (
    select * from billed
    union all select * from collected
    union all select * from fell_due
),

final as (
    select
        event_date,
        taxpayer_type, taxpayer_type_cn, industry, industry_cn, service_type, service_type_cn, team,
        sum(billed_amount) as billed_amount,
        sum(billed_count) as billed_count,
        sum(billed_collected_amount) as billed_collected_amount,
        sum(days_to_pay) as days_to_pay_total,
        sum(paid_count) as paid_count,
        sum(collected_amount) as collected_amount,
        sum(due_count) as due_count,
        sum(due_paid_on_time_count) as due_paid_on_time_count
    from events
    group by all
)

select * from final
