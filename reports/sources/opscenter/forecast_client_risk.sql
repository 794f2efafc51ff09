select * from marts.mart_forecast_client_risk
