select * from core.fct_payments
