select * from marts.mart_renewals_upcoming_summary
