-- Month and quarter rollups carry exactly the core totals: billed = non-void invoices issued by
-- as-of, collected = every application to them.
with marts as (
    select period_grain, sum(billed_amount) as billed, sum(collected_amount) as collected
    from {{ ref('mart_collections_by_period') }}
    group by period_grain
),

core as (
    select
        (select sum(amount) from {{ ref('fct_invoices') }} where not is_void) as billed,
        (select coalesce(sum(a.applied_amount), 0)
         from {{ ref('fct_payment_applications') }} as a
         inner join {{ ref('fct_invoices') }} as i on i.invoice_id = a.invoice_id and not i.is_void) as collected
)

select m.*
from marts as m cross join core as c
where m.billed <> c.billed or m.collected <> c.collected
