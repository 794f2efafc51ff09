-- Payments received on or before each cutoff date, each resolved to a client by the contract's rule
-- against the invoices known on that date: a known non-void invoice -> 'invoice'; else its client_id
-- (or the void/known invoice's client) -> 'client'; else payer_name equal to exactly one client_name
-- -> 'payer_name'; else 'unidentified'.
with cutoffs as (
    select cutoff_date from {{ ref('int_cutoff_dates') }}
),

payments as (
    select * from {{ ref('stg_payments') }}
),

invoices as (
    select * from {{ ref('int_invoices_at_cutoffs') }}
),

clients as (
    select client_id, client_name from {{ ref('stg_clients') }}
),

-- the client master is a snapshot without history: names are matched against today's list
client_names as (
    select
        trim(client_name) as client_name,
        count(*) as clients_with_name,
        min(client_id) as client_id
    from clients
    group by trim(client_name)
),

resolved as (
    select
        c.cutoff_date,
        p.*,
        i.invoice_id as known_invoice_id,
        i.client_id as invoice_client_id,
        i.is_void as invoice_is_void,
        k.client_id as known_client_id,
        n.clients_with_name,
        n.client_id as name_client_id,
        case
            when p.invoice_id is null then 'none'
            when i.invoice_id is null then 'unknown'
            when i.is_void then 'void'
            else 'valid'
        end as invoice_reference
    from cutoffs as c
    inner join payments as p on p.paid_date <= c.cutoff_date
    left join invoices as i on i.cutoff_date = c.cutoff_date and i.invoice_id = p.invoice_id
    left join clients as k on k.client_id = p.client_id
    left join client_names as n on n.client_name = trim(p.payer_name)
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
        coalesce(clients_with_name, 0) as payer_name_matches
    from resolved
)

select * from final
