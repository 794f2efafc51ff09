-- No invoice receives more than its amount, and void invoices receive nothing.
select i.invoice_id, i.amount, i.is_void, sum(a.applied_amount) as applied
from {{ ref('fct_payment_applications') }} as a
inner join {{ ref('fct_invoices') }} as i on i.invoice_id = a.invoice_id
group by i.invoice_id, i.amount, i.is_void
having sum(a.applied_amount) > i.amount or i.is_void
