select * from marts.mart_ar_provision
