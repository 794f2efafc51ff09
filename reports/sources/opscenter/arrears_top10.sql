select * from marts.mart_arrears_top10
