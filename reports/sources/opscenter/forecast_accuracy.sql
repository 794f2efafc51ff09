select * from marts.mart_forecast_accuracy
