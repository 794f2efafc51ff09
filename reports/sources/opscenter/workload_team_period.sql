select * from marts.mart_workload_team_period
