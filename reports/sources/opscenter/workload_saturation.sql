select * from marts.mart_workload_saturation
