-- Payments received on or before each cutoff date, each resolved to a client by the contract's rule
-- against the invoices known on that date: a known non-void invoice -> 'invoice'; else its client_id
-- (or the void/known invoice's client) -> 'client'; else payer_name equal to exactly one client_name
-- -> 'payer_name'; else 'unidentified'.
with cutoffs as (
    -- incremental: only the cutoffs that are new or whose inputs changed (macros/cutoff_incremental.sql)
    {{ cutoffs_to_build() }}
),

payments as (
    select * from {{ ref('stg_payments') }}
),

invoices as (
    select * from {{ ref('int_invoices_at_cutoffs') }}
),

lookups as (
    select * from {{ ref('int_payment_client_lookups') }}
),

resolved as (
    select
        c.cutoff_date,
        c.input_fingerprint,
        p.*,
        i.invoice_id as known_invoice_id,
        i.client_id as invoice_client_id,
        i.is_void as invoice_is_void,
        l.known_client_id,
        l.clients_with_name,
        l.name_client_id,
        case
            when p.invoice_id is null then 'none'
            when i.invoice_id is null then 'unknown'
            when i.is_void then 'void'
            else 'valid'
        end as invoice_reference
    from cutoffs as c
    inner join payments as p on p.paid_date <= c.cutoff_date
    left join invoices as i on i.cutoff_date = c.cutoff_date and i.invoice_id = p.invoice_id
    inner join lookups as l on l.payment_id = p.payment_id
),

final as (
    select
        cutoff_date,
        payment_id,
        client_id,
        invoice_id,
        paid_date,
        amount,
        channel,
        payer_name,
        reference,
        invoice_reference,
        case
            when invoice_reference = 'valid' then 'invoice'
            when coalesce(known_client_id, invoice_client_id) is not null then 'client'
            when clients_with_name = 1 then 'payer_name'
            else 'unidentified'
        end as identification_method,
        case
            when invoice_reference = 'valid' then invoice_client_id
            when coalesce(known_client_id, invoice_client_id) is not null
                then coalesce(known_client_id, invoice_client_id)
            when clients_with_name = 1 then name_client_id
        end as resolved_client_id,
        case when invoice_reference = 'valid' then invoice_id end as settles_invoice_id,
        coalesce(clients_with_name, 0) as payer_name_matches,
        input_fingerprint
    from resolved
)

select * from final
