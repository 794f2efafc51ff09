-- Step 1 of the application rule, per cutoff date: payments that name a valid invoice settle it, in
-- paid order (paid_date, payment_id). The cumulative amount paid on the invoice is an interval per
-- payment; its overlap with [0, invoice amount) is what that payment applies, the rest is excess credit.
with cutoffs as (
    -- incremental: only the cutoffs that are new or whose inputs changed
    -- (macros/fingerprint_incremental.sql)
    {{ keys_to_build_recorded('int_cutoff_input_fingerprints', 'cutoff_date') }}
),

payments as (
    select p.*
    from {{ ref('int_payments_identified_at_cutoffs') }} as p
    inner join cutoffs as c on c.cutoff_date = p.cutoff_date
    where p.identification_method = 'invoice'
),

invoices as (
    -- the amount does not depend on the cutoff, and a payment identified by 'invoice' names an invoice
    -- known at its cutoff: one row per invoice instead of int_invoices_at_cutoffs' row per cutoff
    select invoice_id, amount from {{ ref('stg_invoices') }}
),

cumulative as (
    select
        cutoff_date,
        input_fingerprint,
        payment_id,
        settles_invoice_id as invoice_id,
        resolved_client_id as client_id,
        paid_date,
        amount,
        sum(amount) over (
            partition by cutoff_date, settles_invoice_id order by paid_date, payment_id
            rows between unbounded preceding and current row
        ) as paid_to_date
    from payments
),

final as (
    select
        c.cutoff_date,
        c.payment_id,
        c.invoice_id,
        c.client_id,
        c.paid_date,
        c.amount as payment_amount,
        cast(greatest(0, least(c.paid_to_date, i.amount) - (c.paid_to_date - c.amount)) as decimal(18, 2))
            as applied_amount,
        cast(
            c.amount - greatest(0, least(c.paid_to_date, i.amount) - (c.paid_to_date - c.amount))
            as decimal(18, 2)
        ) as excess_amount,
        c.input_fingerprint
    from cumulative as c
    inner join invoices as i on i.invoice_id = c.invoice_id
)

select * from final
