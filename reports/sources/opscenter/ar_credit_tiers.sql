select * from marts.mart_ar_credit_tiers
