select * from marts.mart_alert_history
