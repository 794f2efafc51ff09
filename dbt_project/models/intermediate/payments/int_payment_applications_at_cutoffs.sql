-- Every amount of a payment applied to an invoice, as the application rule stood on each cutoff date:
-- one row per (cutoff_date, payment, invoice). core.fct_payment_applications is the as-of slice.
with cutoffs as (
    -- incremental: only the cutoffs that are new or whose inputs changed
    -- (macros/fingerprint_incremental.sql)
    {{ keys_to_build_recorded('int_cutoff_input_fingerprints', 'cutoff_date') }}
),

direct as (
    select
        d.cutoff_date, d.payment_id, d.invoice_id, d.client_id, d.paid_date, 'invoice' as application_method,
        d.applied_amount
    from {{ ref('int_payment_applications_direct') }} as d
    inner join cutoffs as c on c.cutoff_date = d.cutoff_date
    where d.applied_amount > 0
),

client_level as (
    select
        l.cutoff_date, l.payment_id, l.invoice_id, l.client_id, l.paid_date, l.application_method, l.applied_amount
    from {{ ref('int_payment_applications_client') }} as l
    inner join cutoffs as c on c.cutoff_date = l.cutoff_date
),

applications as (
    select * from direct
    union all
    select * from client_level
),

invoices as (
    -- the issue date does not depend on the cutoff, and every application's invoice is known at its
    -- cutoff (steps 1 and 2 read only such invoices): one row per invoice, not per cutoff
    select invoice_id, issue_date from {{ ref('stg_invoices') }}
),

final as (
    select
        a.cutoff_date,
        a.payment_id || '|' || a.invoice_id as application_id,
        a.payment_id,
        a.invoice_id,
        a.client_id,
        a.applied_amount,
        a.paid_date,
        -- credit paid before the invoice existed settles it only when the invoice is issued
        greatest(a.paid_date, i.issue_date) as applied_date,
        a.application_method,
        c.input_fingerprint
    from applications as a
    inner join cutoffs as c on c.cutoff_date = a.cutoff_date
    inner join invoices as i on i.invoice_id = a.invoice_id
)

select * from final
