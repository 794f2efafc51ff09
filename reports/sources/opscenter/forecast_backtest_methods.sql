select * from marts.mart_forecast_backtest_methods
