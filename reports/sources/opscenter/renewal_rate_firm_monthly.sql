select * from marts.mart_renewal_rate_firm_monthly
