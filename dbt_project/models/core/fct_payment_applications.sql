-- Every amount of a payment applied to an invoice as of the run date: one row per (payment, invoice).
-- The rule lives in the intermediate models, evaluated per cutoff; this is the as-of-date slice.
with applications as (
    select * from {{ ref('int_payment_applications_at_cutoffs') }}
    where cutoff_date = {{ as_of() }}
),

final as (
    select
        application_id,
        payment_id,
        invoice_id,
        client_id,
        applied_amount,
        paid_date,
        applied_date,
        application_method
    from applications
)

select * from final
