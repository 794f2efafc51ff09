select * from marts.mart_workload_staff_period
