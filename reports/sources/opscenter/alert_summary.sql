select * from marts.mart_alert_summary
