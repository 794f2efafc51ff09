select * from marts.mart_renewal_rate_12m
