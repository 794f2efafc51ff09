select * from marts.mart_collections_team_monthly
