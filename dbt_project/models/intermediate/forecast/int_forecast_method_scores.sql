-- Each forecast method's backtest score and the method the night publishes (doc
-- metric_forecast_methods): MAPE = mean of |forecast − actual| ÷ actual over the backtest months
-- with actual > 0; WAPE = Σ |forecast − actual| ÷ Σ actual; bias = Σ (forecast − actual) ÷ Σ actual
-- (positive: the method forecasts too much).
-- Eligible: the methods with a forecast in every backtest month (a method that needs more history,
-- e.g. seasonal_trend on a young firm, is shown but not chosen). Chosen: the eligible method with
-- the lowest MAPE, ties to the model; the model when no backtest month exists. Band: the var
-- forecast_band_quantile of the chosen method's |actual − forecast| ÷ forecast (at least 3 months),
-- else var forecast_default_band.
with backtest as (
    select * from {{ ref('int_forecast_backtest') }}
),

months as (
    select count(distinct period) as backtest_months from backtest
),

methods as (
    select t.method, t.priority
    from (values ('model', 1), ('trailing_3m_mean', 2), ('last_month', 3), ('seasonal_trend', 4)) as t(method, priority)
),

scored as (
    select
        k.method,
        k.priority,
        count(b.forecast_amount) as forecast_months,
        count(b.abs_pct_error) as scored_months,
        avg(b.abs_pct_error) as mape,
        sum(abs(b.error_amount)) filter (where b.forecast_amount is not null)
            / nullif(sum(b.actual_amount) filter (where b.forecast_amount is not null), 0) as wape,
        -sum(b.error_amount) filter (where b.forecast_amount is not null)
            / nullif(sum(b.actual_amount) filter (where b.forecast_amount is not null), 0) as bias,
        count(*) filter (where b.forecast_amount > 0) as band_months,
        quantile_cont(abs(b.actual_amount - b.forecast_amount) / b.forecast_amount, {{ var('forecast_band_quantile') }})
            filter (where b.forecast_amount > 0) as band_quantile
    from methods as k
    left join backtest as b on b.method = k.method
    group by k.method, k.priority
),

ranked as (
    select
        s.*,
        m.backtest_months,
        m.backtest_months > 0 and s.forecast_months = m.backtest_months and s.mape is not null as is_eligible
    from scored as s
    cross join months as m
),

chosen as (
    select coalesce(
        (select method from ranked where is_eligible order by round(mape, 8), priority limit 1), 'model'
    ) as method
),

final as (
    select
        r.method,
        r.method <> 'model' as is_naive,
        r.priority,
        r.backtest_months,
        r.forecast_months,
        r.scored_months,
        round(r.mape, 8) as mape,
        round(r.wape, 8) as wape,
        round(r.bias, 8) as bias,
        r.is_eligible,
        r.method = c.method as is_chosen,
        round(case when r.band_months >= 3 then r.band_quantile else {{ var('forecast_default_band') }} end, 8)
            as band_pct
    from ranked as r
    cross join chosen as c
)

select * from final
