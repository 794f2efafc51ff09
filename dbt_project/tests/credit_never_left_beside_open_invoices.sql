-- Client credit is only left over when the client has no open (non-void, not written-off) invoice
-- left: otherwise the oldest-due-first queue would have applied it.
with credit as (
    select resolved_client_id as client_id, sum(credit_amount) as credit
    from {{ ref('fct_payments') }}
    where is_identified
    group by resolved_client_id
    having sum(credit_amount) > 0
),

open_invoices as (
    select client_id, sum(open_receivable_amount) as still_open
    from {{ ref('fct_invoices') }}
    group by client_id
    having sum(open_receivable_amount) > 0
)

select c.client_id, c.credit, o.still_open
from credit as c
inner join open_invoices as o on o.client_id = c.client_id
