select * from marts.mart_kpi_gap_attribution
