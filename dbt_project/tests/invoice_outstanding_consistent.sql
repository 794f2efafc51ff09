-- outstanding = amount - applied, never negative (0 for void), and applied equals the applications.
with applied as (
    select invoice_id, sum(applied_amount) as applied
    from {{ ref('fct_payment_applications') }}
    group by invoice_id
)

select i.invoice_id, i.amount, i.applied_amount, i.outstanding_amount, a.applied
from {{ ref('fct_invoices') }} as i
left join applied as a on a.invoice_id = i.invoice_id
where i.outstanding_amount < 0
   or i.applied_amount <> coalesce(a.applied, 0)
   or (not i.is_void and i.outstanding_amount <> i.amount - i.applied_amount)
   or (i.is_void and i.outstanding_amount <> 0)
