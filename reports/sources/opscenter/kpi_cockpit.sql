select * from marts.mart_kpi_cockpit
