-- 回款预测的组成: expected collections per cutoff date (int_cutoff_dates), month ahead h, client,
-- industry, service type and component, every input as known on that cutoff (invoices, voids,
-- write-offs and payment applications from the *_at_cutoffs models). All cutoffs in one pass: the
-- as-of date forecasts h = 1..forecast_horizon_months, each backtest month end h = 1 (next month).
-- Incremental by cutoff: a night computes only the cutoffs whose input fingerprint
-- (int_forecast_input_fingerprints) is new or changed, usually just the as-of date; the pre-hook deletes
-- superseded and out-of-window cutoffs (macros/fingerprint_incremental.sql). Money is summed as exact
-- DECIMAL and the expected amounts over DECIMAL(38, 12) terms, so a kept cutoff's rows equal a rebuild's
-- (a DOUBLE sum's result depends on the threads' order).
-- Method (doc metric_expected_collections):
-- - payment-timing distribution from the issue month: for non-void invoices whose issue month is
--   fully observed (issue month + forecast_max_offset_months complete by the cutoff; the
--   forecast_reference_months latest such months), share_k = Σ applied in month issue + k / Σ amount,
--   k = 0..max offset; per client with ≥ forecast_min_client_invoices reference invoices, else
--   industry, else firm;
-- - open invoices: outstanding × share_k / (1 − Σ share of the offsets already past);
-- - invoices the contract schedules will issue (cycle starts after the cutoff; cycles after the
--   contract's end weighted by its renewal probability: ml.renewal_scores of that night, else the
--   renewal rate known at the cutoff; 0 when a successor is already signed) × share;
-- - new business: average monthly invoicing of new contracts in their signing month over the last
--   forecast_reference_months complete months, by industry and service type, × share.
{%- set max_offset = var('forecast_max_offset_months') %}
{%- set ref_months = var('forecast_reference_months') %}
{%- set horizon = var('forecast_horizon_months') %}

with to_build as (
    {{ keys_to_build_recorded('int_forecast_input_fingerprints', 'cutoff_date') }}
),

cutoff_dates as (
    select d.cutoff_date, d.is_as_of_date, b.input_fingerprint
    from {{ ref('int_cutoff_dates') }} as d
    inner join to_build as b on b.cutoff_date = d.cutoff_date
),

cutoffs as (
    select
        cutoff_date,
        is_as_of_date,
        input_fingerprint,
        date_trunc('month', cutoff_date)::date as m0,
        (date_trunc('month', cutoff_date + 1) - to_months({{ max_offset + 1 }}))::date as ref_end,
        (date_trunc('month', cutoff_date + 1) - to_months({{ max_offset + ref_months }}))::date as ref_start,
        (date_trunc('month', cutoff_date + 1) - to_months({{ ref_months }}))::date as nb_start,
        (date_trunc('month', cutoff_date + 1) - interval 1 month)::date as nb_end
    from cutoff_dates
),

horizons as (
    select c.cutoff_date, c.m0, h.h
    from cutoffs as c
    cross join range(1, {{ horizon + 1 }}) as h(h)
    where c.is_as_of_date or h.h = 1
),

offsets as (
    select t.k from range(0, {{ max_offset + 1 }}) as t(k)
),

clients as (
    select * from {{ ref('int_forecast_clients') }}
),

contracts_all as (
    select * from {{ ref('int_forecast_contracts') }}
),

invoices as (
    select
        i.cutoff_date,
        i.invoice_id,
        i.client_id,
        i.contract_id,
        i.amount,
        date_trunc('month', i.issue_date)::date as issue_month,
        coalesce(cl.industry, 'other') as industry,
        coalesce(k.service_type, 'other') as service_type,
        i.is_written_off
    from {{ ref('int_invoices_at_cutoffs') }} as i
    left join clients as cl on cl.client_id = i.client_id
    left join contracts_all as k on k.contract_id = i.contract_id
    where not i.is_void
      and i.cutoff_date in (select c.cutoff_date from cutoffs as c)
),

applied as (
    select cutoff_date, invoice_id, applied_date, applied_amount
    from {{ ref('int_payment_applications_at_cutoffs') }}
    where cutoff_date in (select c.cutoff_date from cutoffs as c)
),

ref_invoices as (
    select i.*
    from invoices as i
    inner join cutoffs as c
        on c.cutoff_date = i.cutoff_date
        and i.issue_month between c.ref_start and c.ref_end
),

ref_collected as (
    select
        r.cutoff_date,
        r.client_id,
        r.industry,
        datediff('month', r.issue_month, date_trunc('month', a.applied_date)::date) as k,
        a.applied_amount
    from ref_invoices as r
    inner join applied as a on a.cutoff_date = r.cutoff_date and a.invoice_id = r.invoice_id
),

-- reference totals and collections per level: client, industry, firm (one grouping-sets pass each)
totals as (
    select
        cutoff_date,
        case when grouping(client_id) = 0 then 'client' when grouping(industry) = 0 then 'industry' else 'firm' end
            as lvl,
        coalesce(client_id, industry, '') as key,
        count(*) as n,
        sum(amount) as total
    from ref_invoices
    group by grouping sets ((cutoff_date, client_id), (cutoff_date, industry), (cutoff_date))
),

collected as (
    select
        cutoff_date,
        case when grouping(client_id) = 0 then 'client' when grouping(industry) = 0 then 'industry' else 'firm' end
            as lvl,
        coalesce(client_id, industry, '') as key,
        k,
        sum(applied_amount) as amount
    from ref_collected
    group by grouping sets ((cutoff_date, client_id, k), (cutoff_date, industry, k), (cutoff_date, k))
),

distribution as (
    select
        t.cutoff_date,
        t.lvl,
        t.key,
        o.k,
        cast(coalesce(c.amount, 0) as double) / cast(t.total as double) as share,
        sum(cast(coalesce(c.amount, 0) as double) / cast(t.total as double)) over (
            partition by t.cutoff_date, t.lvl, t.key order by o.k
        ) as cum_share
    from totals as t
    cross join offsets as o
    left join collected as c
        on c.cutoff_date = t.cutoff_date and c.lvl = t.lvl and c.key = t.key and c.k = o.k
    where t.total > 0
),

client_level as (
    select
        c.cutoff_date,
        cl.client_id,
        case
            when tc.n >= {{ var('forecast_min_client_invoices') }} then 'client'
            when ti.n is not null then 'industry'
            else 'firm'
        end as lvl,
        case
            when tc.n >= {{ var('forecast_min_client_invoices') }} then cl.client_id
            when ti.n is not null then cl.industry
            else ''
        end as key
    from cutoffs as c
    cross join clients as cl
    left join totals as tc
        on tc.cutoff_date = c.cutoff_date and tc.lvl = 'client' and tc.key = cl.client_id
    left join totals as ti
        on ti.cutoff_date = c.cutoff_date and ti.lvl = 'industry' and ti.key = cl.industry
),

-- applied per (cutoff, invoice) first: grouping by the narrow key, not by every invoice column
applied_by_invoice as (
    select cutoff_date, invoice_id, sum(applied_amount) as applied_amount
    from applied
    group by cutoff_date, invoice_id
),

open_invoices as (
    select
        i.cutoff_date,
        i.invoice_id,
        i.client_id,
        i.industry,
        i.service_type,
        i.amount - coalesce(a.applied_amount, 0) as outstanding,
        datediff('month', i.issue_month, c.m0) as age
    from invoices as i
    inner join cutoffs as c on c.cutoff_date = i.cutoff_date
    left join applied_by_invoice as a on a.cutoff_date = i.cutoff_date and a.invoice_id = i.invoice_id
    where not i.is_written_off
      and i.amount - coalesce(a.applied_amount, 0) > 0.005
),

open_expected as (
    select
        h.cutoff_date,
        h.h,
        o.client_id,
        o.industry,
        o.service_type,
        'open' as component,
        cast(o.outstanding as double) * d.share / (1 - coalesce(past.cum_share, 0)) as amount
    from open_invoices as o
    inner join client_level as cl on cl.cutoff_date = o.cutoff_date and cl.client_id = o.client_id
    inner join horizons as h on h.cutoff_date = o.cutoff_date
    inner join distribution as d
        on d.cutoff_date = o.cutoff_date and d.lvl = cl.lvl and d.key = cl.key and d.k = h.h + o.age
    left join distribution as past
        on past.cutoff_date = o.cutoff_date and past.lvl = cl.lvl and past.key = cl.key and past.k = o.age
    where 1 - coalesce(past.cum_share, 0) > 1e-9
),

successors as (
    select previous_contract_id as contract_id, min(effective_signed_date) as first_signed_date
    from contracts_all
    where previous_contract_id is not null
    group by previous_contract_id
),

-- share of recurring contracts that ended in the 12 months before the cutoff (window closed by then)
-- with a successor signed by the cutoff and starting within 30 days of the end
renewal_rate as (
    select
        c.cutoff_date,
        coalesce(
            avg(case when s.contract_id is not null then 1.0 else 0.0 end) filter (where k.contract_id is not null),
            {{ var('forecast_default_renewal_rate') }}
        ) as rate
    from cutoffs as c
    left join contracts_all as k
        on k.billing_cycle <> 'one_off'
        and k.effective_signed_date <= c.cutoff_date
        and k.end_date + 30 < c.cutoff_date
        and k.end_date >= c.cutoff_date - 365
    left join contracts_all as s
        on s.previous_contract_id = k.contract_id
        and s.effective_signed_date <= c.cutoff_date
        and s.start_date <= k.end_date + 30
    group by c.cutoff_date
),

scores as (
    select as_of_date, contract_id, renewal_probability from {{ ref('renewal_scores') }}
),

contracts as (
    select
        c.cutoff_date,
        c.m0,
        k.contract_id,
        k.client_id,
        coalesce(cl.industry, 'other') as industry,
        k.service_type,
        cast(k.fee_per_cycle as double) as fee,
        k.start_date,
        k.end_date,
        case k.billing_cycle
            when 'monthly' then 1 when 'quarterly' then 3 when 'semiannual' then 6 when 'annual' then 12
        end as step,
        coalesce(su.first_signed_date <= c.cutoff_date, false) as renewed_at_cutoff,
        coalesce(rs.renewal_probability, rr.rate) as p_renew
    from cutoffs as c
    inner join contracts_all as k
        on k.effective_signed_date <= c.cutoff_date
        and k.end_date >= c.cutoff_date
        and not (k.source_status = 'terminated' and k.source_updated_date <= c.cutoff_date)
    inner join renewal_rate as rr on rr.cutoff_date = c.cutoff_date
    left join clients as cl on cl.client_id = k.client_id
    left join successors as su on su.contract_id = k.contract_id
    left join scores as rs on rs.contract_id = k.contract_id and rs.as_of_date = c.cutoff_date
),

-- the cycles starting after the cutoff within the horizon: from one cycle before the cutoff's
-- (index estimated from whole months elapsed) over enough indices to pass the horizon's end
cycles as (
    select
        c.*,
        case when c.step is null then c.start_date
             else (c.start_date + to_months(cast(c.step * t.i as integer)))::date end as cycle_start
    from contracts as c
    cross join lateral (  -- noqa: ST05
        select unnest(range(
            greatest(0, datediff('month', c.start_date, c.cutoff_date) // coalesce(c.step, 1) - 1),
            greatest(0, datediff('month', c.start_date, c.cutoff_date) // coalesce(c.step, 1) - 1)
                + {{ horizon + 4 }}
        )) as i
    ) as t
    where t.i = 0 or c.step is not null
),

scheduled as (
    select
        c.cutoff_date,
        c.m0,
        c.client_id,
        c.industry,
        c.service_type,
        c.fee * case
            when c.cycle_start <= c.end_date then 1.0
            when c.renewed_at_cutoff then 0.0
            else c.p_renew
        end as amount,
        date_trunc('month', c.cycle_start)::date as issue_month
    from cycles as c
    where c.cycle_start > c.cutoff_date
      and c.cycle_start < c.m0 + to_months({{ horizon + 1 }})
      and (c.step is not null or c.cycle_start <= c.end_date)
),

scheduled_expected as (
    select
        h.cutoff_date,
        h.h,
        s.client_id,
        s.industry,
        s.service_type,
        'scheduled' as component,
        s.amount * d.share as amount
    from scheduled as s
    inner join client_level as cl on cl.cutoff_date = s.cutoff_date and cl.client_id = s.client_id
    inner join horizons as h on h.cutoff_date = s.cutoff_date
    inner join distribution as d
        on d.cutoff_date = s.cutoff_date and d.lvl = cl.lvl and d.key = cl.key
        and d.k = datediff('month', s.issue_month, (h.m0 + to_months(cast(h.h as integer)))::date)
),

-- months of the new-business window since the firm's first invoice known at the cutoff
nb_months as (
    select
        c.cutoff_date,
        greatest(1, datediff('month', greatest(c.nb_start, min(i.issue_month)), c.nb_end) + 1) as n
    from cutoffs as c
    inner join invoices as i on i.cutoff_date = c.cutoff_date
    group by c.cutoff_date, c.nb_start, c.nb_end
),

new_business_rate as (
    select
        i.cutoff_date,
        i.industry,
        i.service_type,
        cast(sum(i.amount) as double) / any_value(m.n) as monthly_amount
    from invoices as i
    inner join cutoffs as c on c.cutoff_date = i.cutoff_date
    inner join contracts_all as k on k.contract_id = i.contract_id
    inner join nb_months as m on m.cutoff_date = i.cutoff_date
    where k.previous_contract_id is null
      and date_trunc('month', k.effective_signed_date) = i.issue_month
      and i.issue_month between c.nb_start and c.nb_end
    group by i.cutoff_date, i.industry, i.service_type
),

new_business_expected as (
    -- each future month j issues the monthly amount, collected k = h − j months later
    select
        h.cutoff_date,
        h.h,
        cast(null as varchar) as client_id,
        n.industry,
        n.service_type,
        'new_business' as component,
        n.monthly_amount * d.share as amount
    from new_business_rate as n
    inner join horizons as h on h.cutoff_date = n.cutoff_date
    cross join range(1, {{ horizon + 1 }}) as j(j)
    left join totals as ti on ti.cutoff_date = n.cutoff_date and ti.lvl = 'industry' and ti.key = n.industry
    inner join distribution as d
        on d.cutoff_date = n.cutoff_date
        and d.lvl = case when ti.n is not null then 'industry' else 'firm' end
        and d.key = case when ti.n is not null then n.industry else '' end
        and d.k = h.h - j.j
    where j.j <= h.h
),

unioned as (
    select * from open_expected
    union all by name
    select * from scheduled_expected
    union all by name
    select * from new_business_expected
),

expected as (
    select
        cutoff_date,
        h,
        client_id,
        industry,
        service_type,
        component,
        cast(sum(cast(amount as decimal(38, 12))) as double) as amount
    from unioned
    group by cutoff_date, h, client_id, industry, service_type, component
),

final as (
    select e.*, c.input_fingerprint
    from expected as e
    inner join cutoffs as c on c.cutoff_date = e.cutoff_date
)

select * from final
