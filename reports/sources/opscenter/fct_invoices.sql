select * from core.fct_invoices
