select * from marts.mart_staff_blocking_detail
