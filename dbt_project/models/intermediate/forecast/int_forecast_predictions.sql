-- Every forecast method's prediction of the collections in month m0 + h (m0 = the cutoff's month),
-- per cutoff date, scope (firm / industry / service type) and h, inputs as known on the cutoff
-- (doc metric_forecast_methods):
-- - model: the components model (int_forecast_components) summed by scope with grouping sets;
-- - last_month: the last complete month's collections;
-- - trailing_3m_mean: mean of the last 3 complete months (fewer when the history is shorter);
-- - seasonal_trend: the same month a year earlier × the firm's trend (Σ of the last 12 complete
--   months that have a month a year before them in the history ÷ Σ of those year-earlier months;
--   1 when no such month exists), one trend for every scope so the scopes add up to the firm.
with cutoffs as (
    select
        cutoff_date,
        date_trunc('month', cutoff_date)::date as m0,
        (date_trunc('month', cutoff_date + 1) - interval 1 month)::date as last_complete_month
    from {{ ref('int_cutoff_dates') }}
),

components as (
    select * from {{ ref('int_forecast_components') }}
),

horizons as (
    -- as in int_forecast_components: 1..forecast_horizon_months ahead of the as-of date, 1 elsewhere
    select c.cutoff_date, h.h
    from {{ ref('int_cutoff_dates') }} as c
    cross join range(1, {{ var('forecast_horizon_months') + 1 }}) as h(h)
    where c.is_as_of_date or h.h = 1
),

model as (
    select
        cutoff_date,
        case when grouping(industry) = 0 then 'industry' when grouping(service_type) = 0 then 'service_type'
            else 'firm' end as scope_type,
        coalesce(industry, service_type, '') as scope_id,
        h,
        'model' as method,
        sum(amount) as amount,
        sum(amount) filter (where component = 'open') as open_invoice_amount,
        sum(amount) filter (where component = 'scheduled') as scheduled_invoice_amount,
        sum(amount) filter (where component = 'new_business') as new_business_amount
    from components
    group by grouping sets ((cutoff_date, h), (cutoff_date, industry, h), (cutoff_date, service_type, h))
),

actuals as (
    select a.*, c.last_complete_month
    from {{ ref('int_forecast_collections_monthly') }} as a
    inner join cutoffs as c on c.cutoff_date = a.cutoff_date
    where a.month <= c.last_complete_month
),

recent as (
    select
        cutoff_date,
        scope_type,
        scope_id,
        sum(amount) filter (where month = last_complete_month) as last_month,
        avg(amount) filter (where month >= last_complete_month - interval 2 month) as trailing_3m_mean
    from actuals
    group by cutoff_date, scope_type, scope_id
),

trend as (
    select
        cur.cutoff_date,
        cur.scope_type,
        cur.scope_id,
        case when sum(prev.amount) > 0 then sum(cur.amount) / sum(prev.amount) end as trend
    from actuals as cur
    inner join actuals as prev
        on prev.cutoff_date = cur.cutoff_date and prev.scope_type = cur.scope_type
        and prev.scope_id = cur.scope_id and prev.month = cur.month - interval 12 month
    where cur.month >= cur.last_complete_month - interval 11 month and cur.scope_type = 'firm'
    group by cur.cutoff_date, cur.scope_type, cur.scope_id
),

naive as (
    select
        r.cutoff_date,
        r.scope_type,
        r.scope_id,
        h.h,
        r.last_month,
        r.trailing_3m_mean,
        ly.amount * coalesce(t.trend, 1.0) as seasonal_trend
    from recent as r
    inner join horizons as h on h.cutoff_date = r.cutoff_date
    inner join cutoffs as c on c.cutoff_date = r.cutoff_date
    left join trend as t on t.cutoff_date = r.cutoff_date and t.scope_type = 'firm'
    left join actuals as ly
        on ly.cutoff_date = r.cutoff_date and ly.scope_type = r.scope_type and ly.scope_id = r.scope_id
        and ly.month = c.m0 + to_months(cast(h.h as integer) - 12)
),

final as (
    select
        cutoff_date, scope_type, scope_id, h, method, amount,
        open_invoice_amount, scheduled_invoice_amount, new_business_amount
    from model
    union all by name
    select cutoff_date, scope_type, scope_id, h, 'last_month' as method, last_month as amount
    from naive
    union all by name
    select cutoff_date, scope_type, scope_id, h, 'trailing_3m_mean' as method, trailing_3m_mean as amount
    from naive
    union all by name
    select cutoff_date, scope_type, scope_id, h, 'seasonal_trend' as method, seasonal_trend as amount
    from naive
)

select
    f.cutoff_date,
    f.scope_type,
    f.scope_id,
    f.h,
    (c.m0 + to_months(cast(f.h as integer)))::date as target_month,
    f.method,
    -- rounded (4 decimals): sums of doubles in a different order give identical reruns
    round(f.amount, 4) as amount,
    round(f.open_invoice_amount, 4) as open_invoice_amount,
    round(f.scheduled_invoice_amount, 4) as scheduled_invoice_amount,
    round(f.new_business_amount, 4) as new_business_amount
from final as f
inner join cutoffs as c on c.cutoff_date = f.cutoff_date
