select * from marts.mart_ar_credit_tier_summary
