select * from marts.mart_alerts
