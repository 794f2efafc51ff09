select * from marts.mart_tax_calendar
