select * from raw.load_runs
