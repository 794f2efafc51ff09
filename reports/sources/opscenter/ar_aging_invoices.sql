select * from marts.mart_ar_aging_invoices
