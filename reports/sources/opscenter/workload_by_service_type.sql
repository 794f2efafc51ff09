select * from marts.mart_workload_by_service_type
