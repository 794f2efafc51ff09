select * from marts.mart_ar_monthly_kpis
