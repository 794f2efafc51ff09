select * from marts.mart_payment_timeliness_by_industry
