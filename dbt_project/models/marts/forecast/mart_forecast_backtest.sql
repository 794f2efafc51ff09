-- 回款预测回测: the published method's backtest as int_forecast_published_backtest computes it (the
-- forecast-deviation alert reads the same model).
with final as (
    -- the column list is fixed by the enforced contract (AM04 does not know it)
    select * from {{ ref('int_forecast_published_backtest') }}
)

select * from final  -- noqa: AM04
