-- The report's aging buckets, defined once: days past due of an open receivable as of the date.
select
    i.invoice_id,
    i.client_id,
    i.issue_date,
    i.due_date,
    i.amount,
    i.open_receivable_amount,
    i.days_past_due,
    case
        when i.days_past_due <= 0 then 'current'
        when i.days_past_due <= 30 then 'd1_30'
        when i.days_past_due <= 60 then 'd31_60'
        when i.days_past_due <= 90 then 'd61_90'
        when i.days_past_due <= 180 then 'd91_180'
        else 'over_180'
    end as bucket
from {{ ref('fct_invoices') }} as i
where i.open_receivable_amount > 0
