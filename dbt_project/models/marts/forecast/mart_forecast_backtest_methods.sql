-- 回款预测回测（各方法）: per backtest month and method, the forecast made at the previous month end with what
-- was known then, the month's actual collections, the error (actual − forecast), |error| ÷ actual,
-- the deviation flag and the method's MAPE over the months shown.
with backtest as (
    select * from {{ ref('int_forecast_backtest') }}
),

scores as (
    select * from {{ ref('int_forecast_method_scores') }}
),

final as (
    select
        b.period || '|' || b.method as backtest_key,
        b.period,
        b.period_start,
        b.cutoff_date,
        b.method,
        {{ forecast_method_cn('b.method') }} as method_cn,
        s.is_naive,
        s.is_chosen,
        round(b.forecast_amount, 2) as forecast_amount,
        round(b.actual_amount, 2) as actual_amount,
        round(b.error_amount, 2) as error_amount,
        b.abs_pct_error,
        coalesce(b.abs_pct_error > {{ var('forecast_deviation_threshold') }}, false) as is_deviation,
        s.mape,
        s.backtest_months,
        b.period = max(b.period) over () as is_latest_month
    from backtest as b
    inner join scores as s on s.method = b.method
)

select * from final
