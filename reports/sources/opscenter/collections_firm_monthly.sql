select * from marts.mart_collections_firm_monthly
