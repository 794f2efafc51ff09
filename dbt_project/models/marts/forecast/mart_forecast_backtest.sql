-- 回款预测回测: the published method's backtest as int_forecast_published_backtest computes it (the
-- forecast-deviation alert reads the same model). The contract in _forecast.yml fixes the columns.
select * from {{ ref('int_forecast_published_backtest') }}
