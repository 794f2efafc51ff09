-- The report's aging buckets (macro aging_bucket, the firm's one scheme): days past due of an open
-- receivable as of the date.
select
    i.invoice_id,
    i.client_id,
    i.issue_date,
    i.due_date,
    i.amount,
    i.open_receivable_amount,
    i.days_past_due,
    {{ aging_bucket('i.days_past_due') }} as bucket
from {{ ref('fct_invoices') }} as i
where i.open_receivable_amount > 0
