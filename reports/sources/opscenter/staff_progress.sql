select * from marts.mart_staff_progress
