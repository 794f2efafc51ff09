-- Payments received on or before each cutoff date, each resolved to a client by the contract's rule
-- against the invoices known on that date: a known non-void invoice -> 'invoice'; else its client_id
-- (or the void/known invoice's client) -> 'client'; else payer_name equal to exactly one client_name
-- -> 'payer_name'; else 'unidentified'.
-- Plan: each payment is joined once to its client-master lookups and to the invoice it names (keys
-- unique), then repeated per cutoff with the invoice's state at that cutoff computed inline (known when
-- issued by then; void per macros/invoice_as_of.sql) — the same rows as joining
-- int_invoices_at_cutoffs per (cutoff, invoice), without two hash joins over every cutoff's payments.
with cutoffs as (
    -- incremental: only the cutoffs that are new or whose inputs changed
    -- (macros/fingerprint_incremental.sql)
    {{ keys_to_build_recorded('int_cutoff_input_fingerprints', 'cutoff_date') }}
),

payments as materialized (
    select
        p.*,
        l.known_client_id,
        l.clients_with_name,
        l.name_client_id,
        -- the invoice the payment names (all NULL when none or not exported)
        i.client_id as named_invoice_client_id,
        i.issue_date as named_invoice_issue_date,
        i.status as named_invoice_status,
        i.updated_at as named_invoice_updated_at
    from {{ ref('stg_payments') }} as p
    inner join {{ ref('int_payment_client_lookups') }} as l on l.payment_id = p.payment_id
    left join {{ ref('stg_invoices') }} as i on i.invoice_id = p.invoice_id
),

at_cutoffs as (
    select
        c.cutoff_date,
        c.input_fingerprint,
        p.*,
        coalesce(p.named_invoice_issue_date <= c.cutoff_date, false) as invoice_known
    from cutoffs as c
    inner join payments as p on p.paid_date <= c.cutoff_date
),

resolved as (
    select
        *,
        case when invoice_known then named_invoice_client_id end as invoice_client_id,
        case
            when invoice_id is null then 'none'
            when not invoice_known then 'unknown'
            when named_invoice_status = 'void' and {{ invoice_update_known_by(
                'named_invoice_updated_at', 'named_invoice_issue_date', 'cutoff_date') }} then 'void'
            else 'valid'
        end as invoice_reference
    from at_cutoffs
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
