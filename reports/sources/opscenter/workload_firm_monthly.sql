select * from marts.mart_workload_firm_monthly
