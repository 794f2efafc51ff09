-- 回款预测回测: each past month's forecast (made at the previous month end) vs actual, the error,
-- the deviation flag and MAPE over the months shown.
with backtest as (
    select * from {{ source('ml', 'collection_forecast_backtest') }}
    where as_of_date = {{ as_of() }}
),

errors as (
    select
        *,
        actual_amount - forecast_amount as error_amount,
        case when forecast_amount > 0 then abs(actual_amount - forecast_amount) / forecast_amount end
            as abs_pct_error
    from backtest
),

final as (
    select
        period,
        cutoff_date,
        forecast_amount,
        low_amount,
        high_amount,
        actual_amount,
        error_amount,
        abs_pct_error,
        coalesce(abs_pct_error > {{ var('forecast_deviation_threshold') }}, false) as is_deviation,
        actual_amount between low_amount and high_amount as is_within_band,
        avg(abs_pct_error) over () as mape_last_12m,
        period = max(period) over () as is_latest_month
    from errors
)

select * from final
