-- 回款预测回测: the published method's backtest (int_forecast_method_scores.is_chosen): each past
-- month's forecast made at the previous month end with what was known then vs the month's actual
-- collections, the error (actual − forecast), |error| ÷ actual, the band (from the months before
-- it), the deviation flag and MAPE over the months shown (backtest_months: fewer than var
-- backtest_months on a young firm). Every method's rows: mart_forecast_backtest_methods.
-- Read by mart_forecast_backtest and the forecast-deviation alert.
with chosen as (
    select * from {{ ref('int_forecast_method_scores') }} where is_chosen
),

-- the band each month had when it was forecast: the quantile of the earlier months' errors
backtest as (
    select
        b.*,
        case
            when count(*) filter (where b.forecast_amount > 0) over earlier >= 3
                then quantile_cont(abs(b.actual_amount - b.forecast_amount) / b.forecast_amount,
                    {{ var('forecast_band_quantile') }}) filter (where b.forecast_amount > 0) over earlier
            else {{ var('forecast_default_band') }}
        end as band_pct_raw
    from {{ ref('int_forecast_backtest') }} as b
    inner join chosen as c on c.method = b.method
    window earlier as (order by b.period rows between unbounded preceding and 1 preceding)
),

banded as (
    select * exclude (band_pct_raw), round(band_pct_raw, 8) as band_pct from backtest
),

final as (
    select
        b.period,
        b.cutoff_date,
        b.method,
        {{ forecast_method_cn('b.method') }} as method_cn,
        round(b.forecast_amount, 2) as forecast_amount,
        round(greatest(0, b.forecast_amount * (1 - b.band_pct)), 2) as low_amount,
        round(b.forecast_amount * (1 + b.band_pct), 2) as high_amount,
        round(b.actual_amount, 2) as actual_amount,
        round(b.error_amount, 2) as error_amount,
        b.abs_pct_error,
        coalesce(b.abs_pct_error > {{ var('forecast_deviation_threshold') }}, false) as is_deviation,
        b.actual_amount between b.forecast_amount * (1 - b.band_pct) and b.forecast_amount * (1 + b.band_pct)
            as is_within_band,
        b.band_pct,
        c.mape as mape_last_12m,
        c.backtest_months,
        b.period = max(b.period) over () as is_latest_month
    from banded as b
    inner join chosen as c on c.method = b.method
)

select * from final
