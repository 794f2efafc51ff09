select * from marts.mart_tax_filing_status_counts
