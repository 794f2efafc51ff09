-- 回款预测: expected collections for the rest of the current month (when the as-of date is not a
-- month end), each of the next 3 months and the next calendar quarter (months and the quarter are
-- separate series: period_type), by firm / industry / service type. The published amount is the
-- method with the best backtest (int_forecast_method_scores.is_chosen); every method's amount is
-- shown next to it. Band: expected × (1 ∓ band_pct), low floored at 0.
with as_of as (
    select
        {{ as_of() }} as as_of_date,
        date_trunc('month', {{ as_of() }})::date as m0,
        last_day({{ as_of() }}) as month_end,
        -- months ahead of the next calendar quarter's first month
        3 - (extract(month from {{ as_of() }})::integer - 1) % 3 as q_first
),

chosen as (
    select method, band_pct from {{ ref('int_forecast_method_scores') }} where is_chosen
),

predictions as (
    select * from {{ ref('int_forecast_predictions') }}
),

horizons (horizon, horizon_cn, period_type, h_from, h_to) as (
    select 'month_1', '下月', 'month', 1, 1
    union all select 'month_2', '第2个月', 'month', 2, 2
    union all select 'month_3', '第3个月', 'month', 3, 3
    union all select 'next_quarter', '下季度', 'quarter', q_first, q_first + 2 from as_of
),

ahead as (
    -- the forecast made on the as-of date, per horizon, scope and method
    select
        h.horizon,
        h.horizon_cn,
        h.period_type,
        (a.m0 + to_months(h.h_from))::date as period_start,
        (a.m0 + to_months(h.h_to + 1) - interval 1 day)::date as period_end,
        p.scope_type,
        p.scope_id,
        p.method,
        sum(p.amount) as amount,
        sum(p.open_invoice_amount) as open_invoice_amount,
        sum(p.scheduled_invoice_amount) as scheduled_invoice_amount,
        sum(p.new_business_amount) as new_business_amount,
        cast(null as double) as month_to_date_amount
    from horizons as h
    cross join as_of as a
    inner join predictions as p on p.cutoff_date = a.as_of_date and p.h between h.h_from and h.h_to
    group by all
),

month_to_date as (
    select c.scope_type, c.scope_id, c.amount
    from {{ ref('int_forecast_collections_monthly') }} as c
    inner join as_of as a on a.as_of_date = c.cutoff_date and c.month = a.m0
),

rest_of_month_scopes as (
    -- the current month as forecast at the previous month end, less what was collected since (≥ 0)
    select
        p.scope_type,
        p.scope_id,
        p.method,
        greatest(0, p.amount - coalesce(m.amount, 0)) as remaining,
        coalesce(m.amount, 0) as month_to_date_amount
    from predictions as p
    cross join as_of as a
    left join month_to_date as m on m.scope_type = p.scope_type and m.scope_id = p.scope_id
    where p.cutoff_date = a.m0 - 1 and p.h = 1 and a.as_of_date < a.month_end
),

rest_of_month as (
    -- the firm's remainder, shared among industries (service types) in proportion to theirs, so the
    -- scopes still add up to the firm
    select
        'rest_of_month' as horizon,
        '本月剩余' as horizon_cn,
        'month' as period_type,
        a.as_of_date + 1 as period_start,
        a.month_end as period_end,
        r.scope_type,
        r.scope_id,
        r.method,
        case
            when r.scope_type = 'firm' then r.remaining
            else coalesce(f.remaining * r.remaining
                / nullif(sum(r.remaining) over (partition by r.method, r.scope_type), 0), 0)
        end as amount,
        cast(null as double) as open_invoice_amount,
        cast(null as double) as scheduled_invoice_amount,
        cast(null as double) as new_business_amount,
        r.month_to_date_amount
    from rest_of_month_scopes as r
    cross join as_of as a
    left join rest_of_month_scopes as f on f.method = r.method and f.scope_type = 'firm'
),

by_method as (
    select * from ahead
    union all by name
    select * from rest_of_month
),

periods as (
    select distinct horizon, horizon_cn, period_type, period_start, period_end from by_method
    union
    select h.horizon, h.horizon_cn, h.period_type,
        (a.m0 + to_months(h.h_from))::date, (a.m0 + to_months(h.h_to + 1) - interval 1 day)::date
    from horizons as h cross join as_of as a
),

scopes as (
    select distinct scope_type, scope_id from by_method
    union
    select 'firm', ''
),

wide as (
    select
        p.horizon,
        p.horizon_cn,
        p.period_type,
        p.period_start,
        p.period_end,
        s.scope_type,
        s.scope_id,
        coalesce(max(b.amount) filter (where b.method = 'model'), 0) as model_amount,
        max(b.amount) filter (where b.method = 'last_month') as last_month_amount,
        max(b.amount) filter (where b.method = 'trailing_3m_mean') as trailing_3m_amount,
        max(b.amount) filter (where b.method = 'seasonal_trend') as seasonal_amount,
        coalesce(max(b.open_invoice_amount) filter (where b.method = 'model'), 0) as open_invoice_amount,
        coalesce(max(b.scheduled_invoice_amount) filter (where b.method = 'model'), 0)
            as scheduled_invoice_amount,
        coalesce(max(b.new_business_amount) filter (where b.method = 'model'), 0) as new_business_amount,
        max(b.month_to_date_amount) as month_to_date_amount
    from periods as p
    cross join scopes as s
    left join by_method as b
        on b.horizon = p.horizon and b.scope_type = s.scope_type and b.scope_id = s.scope_id
    group by all
),

labels as (
    select enum_name, code, label_cn from {{ ref('contract_enum_labels') }}
),

final as (
    select
        w.horizon || '|' || w.scope_type || '|' || w.scope_id as forecast_key,
        a.as_of_date,
        a.as_of_date as cutoff_date,
        w.horizon,
        w.horizon_cn,
        w.period_type,
        case w.period_type when 'month' then '月' else '季度' end as period_type_cn,
        w.horizon = 'rest_of_month' as is_partial_period,
        w.period_start,
        w.period_end,
        w.scope_type,
        case w.scope_type when 'firm' then '全公司' when 'industry' then '行业' else '服务类型' end
            as scope_type_cn,
        w.scope_id,
        case when w.scope_type = 'firm' then '全公司' else coalesce(l.label_cn, w.scope_id) end as scope_name_cn,
        c.method,
        {{ forecast_method_cn('c.method') }} as method_cn,
        c.method <> 'model' as is_naive_method,
        round(w.open_invoice_amount, 2) as open_invoice_amount,
        round(w.scheduled_invoice_amount, 2) as scheduled_invoice_amount,
        round(w.new_business_amount, 2) as new_business_amount,
        round(w.model_amount, 2) as model_amount,
        round(w.last_month_amount, 2) as last_month_amount,
        round(w.trailing_3m_amount, 2) as trailing_3m_amount,
        round(w.seasonal_amount, 2) as seasonal_amount,
        round(w.month_to_date_amount, 2) as month_to_date_amount,
        round(coalesce(case c.method
            when 'model' then w.model_amount
            when 'last_month' then w.last_month_amount
            when 'trailing_3m_mean' then w.trailing_3m_amount
            when 'seasonal_trend' then w.seasonal_amount
        end, 0), 2) as expected_amount,
        c.band_pct
    from wide as w
    cross join as_of as a
    cross join chosen as c
    left join labels as l on l.enum_name = w.scope_type and l.code = w.scope_id
)

select
    * exclude (band_pct),
    round(greatest(0, expected_amount * (1 - band_pct)), 2) as low_amount,
    round(expected_amount * (1 + band_pct), 2) as high_amount,
    band_pct
from final
