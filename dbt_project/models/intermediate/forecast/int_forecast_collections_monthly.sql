-- Collections (payment applications by applied month) as known on each cutoff date
-- (int_cutoff_dates), for the firm, each industry (client's) and each service type (invoice's
-- contract; 'other' without one), one row per month from the firm's first invoice month known at the
-- cutoff through the cutoff's month, 0 for a month without collections. The naive forecasts read
-- their inputs from here (leak-free, the same slices as the model) and the backtest its actuals
-- (the as-of slice).
-- Incremental by cutoff: a night computes only the cutoffs whose input fingerprint
-- (int_forecast_collections_fingerprints) is new or changed, usually just the as-of date; the pre-hook
-- deletes superseded and out-of-window cutoffs (macros/fingerprint_incremental.sql).
with cutoffs as (
    {{ keys_to_build_recorded('int_forecast_collections_fingerprints', 'cutoff_date') }}
),

first_invoice as (
    -- the first invoice known at a cutoff is the firm's first invoice once one was issued by then (the
    -- invoices known at a cutoff, int_invoices_at_cutoffs, are those issued on or before it): one
    -- min() over the invoices, not a pass over every cutoff's copy of them
    select min(issue_date) as first_issue_date from {{ ref('stg_invoices') }}
),

history as (
    select c.cutoff_date, date_trunc('month', f.first_issue_date)::date as history_start_month
    from cutoffs as c
    inner join first_invoice as f on f.first_issue_date <= c.cutoff_date
),

applications as (
    select
        a.cutoff_date,
        date_trunc('month', a.applied_date)::date as month,
        coalesce(cl.industry, 'other') as industry,
        coalesce(k.service_type, 'other') as service_type,
        cast(a.applied_amount as double) as amount
    from {{ ref('int_payment_applications_at_cutoffs') }} as a
    inner join cutoffs as c on c.cutoff_date = a.cutoff_date
    left join {{ ref('stg_invoices') }} as i on i.invoice_id = a.invoice_id
    left join {{ ref('dim_clients') }} as cl on cl.client_id = a.client_id
    left join {{ ref('dim_contracts') }} as k on k.contract_id = i.contract_id
),

by_scope as (
    select
        cutoff_date,
        case when grouping(industry) = 0 then 'industry' when grouping(service_type) = 0 then 'service_type'
            else 'firm' end as scope_type,
        coalesce(industry, service_type, '') as scope_id,
        month,
        sum(amount) as amount
    from applications
    group by grouping sets (
        (cutoff_date, month), (cutoff_date, industry, month), (cutoff_date, service_type, month)
    )
),

scopes as (
    select distinct cutoff_date, scope_type, scope_id from by_scope
    union
    select cutoff_date, 'firm' as scope_type, '' as scope_id from cutoffs
),

months as (
    select
        h.cutoff_date,
        h.history_start_month,
        m.month::date as month
    from history as h
    cross join lateral (  -- noqa: ST05
        select unnest(range(h.history_start_month, date_trunc('month', h.cutoff_date)::date + 1, interval 1 month))
            as month
    ) as m
),

final as (
    select
        s.cutoff_date,
        s.scope_type,
        s.scope_id,
        m.month,
        m.history_start_month,
        last_day(m.month) <= s.cutoff_date as is_complete_month,
        -- rounded to the cent: a sum of doubles in another order must not change the backtest
        round(coalesce(b.amount, 0), 2) as amount,
        c.input_fingerprint
    from scopes as s
    inner join months as m on m.cutoff_date = s.cutoff_date
    inner join cutoffs as c on c.cutoff_date = s.cutoff_date
    left join by_scope as b
        on b.cutoff_date = s.cutoff_date and b.scope_type = s.scope_type and b.scope_id = s.scope_id
        and b.month = m.month
)

select * from final
