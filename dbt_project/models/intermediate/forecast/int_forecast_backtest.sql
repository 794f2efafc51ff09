-- The backtest: for each of the last var backtest_months complete months before the as-of date
-- whose cutoff (the previous month end) already had a complete month of history, every method's
-- forecast made at that cutoff (int_forecast_predictions, h = 1, firm) against the collections
-- applied in the month as known on the as-of date. error = actual − forecast (negative: the forecast
-- was too high); abs_pct_error = |error| ÷ actual (NULL when actual = 0).
with as_of_cutoff as (
    select cutoff_date as as_of_date from {{ ref('int_cutoff_dates') }} where is_as_of_date
),

actuals as (
    select a.month, a.amount
    from {{ ref('int_forecast_collections_monthly') }} as a
    inner join as_of_cutoff as o on o.as_of_date = a.cutoff_date
    where a.scope_type = 'firm' and a.is_complete_month
),

months as (
    select
        a.month,
        a.amount as actual_amount,
        (a.month - interval 1 day)::date as cutoff_date
    from actuals as a
    where a.month >= (select max(x.month) from actuals as x) - to_months({{ var('backtest_months') }} - 1)
),

history as (
    -- a cutoff with at least one complete month of collections history
    select distinct cutoff_date
    from {{ ref('int_forecast_collections_monthly') }}
    where scope_type = 'firm' and is_complete_month
),

methods as (
    select t.method from (values ('model'), ('last_month'), ('trailing_3m_mean'), ('seasonal_trend')) as t(method)
),

predictions as (
    select cutoff_date, method, amount
    from {{ ref('int_forecast_predictions') }}
    where scope_type = 'firm' and h = 1
),

final as (
    select
        strftime(m.month, '%Y-%m') as period,
        m.month as period_start,
        m.cutoff_date,
        k.method,
        case when k.method = 'model' then coalesce(p.amount, 0) else p.amount end as forecast_amount,
        m.actual_amount
    from months as m
    inner join history as h on h.cutoff_date = m.cutoff_date
    cross join methods as k
    left join predictions as p on p.cutoff_date = m.cutoff_date and p.method = k.method
)

select
    *,
    actual_amount - forecast_amount as error_amount,
    round(case when actual_amount > 0 then abs(forecast_amount - actual_amount) / actual_amount end, 8)
        as abs_pct_error
from final
