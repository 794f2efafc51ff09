-- Every amount of a payment applied to an invoice as of the run date: one row per (payment, invoice).
with direct as (
    select payment_id, invoice_id, client_id, paid_date, 'invoice' as application_method, applied_amount
    from {{ ref('int_payment_applications_direct') }}
    where applied_amount > 0
),

client_level as (
    select payment_id, invoice_id, client_id, paid_date, application_method, applied_amount
    from {{ ref('int_payment_applications_client') }}
),

applications as (
    select * from direct
    union all
    select * from client_level
),

invoices as (
    select invoice_id, issue_date from {{ ref('int_invoices_as_of') }}
),

final as (
    select
        a.payment_id || '|' || a.invoice_id as application_id,
        a.payment_id,
        a.invoice_id,
        a.client_id,
        a.applied_amount,
        a.paid_date,
        -- credit paid before the invoice existed settles it only when the invoice is issued
        greatest(a.paid_date, i.issue_date) as applied_date,
        strftime(greatest(a.paid_date, i.issue_date), '%Y-%m') as applied_period,
        a.application_method
    from applications as a
    inner join invoices as i on i.invoice_id = a.invoice_id
)

select * from final
