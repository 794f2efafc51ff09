select * from marts.mart_progress_rollup
