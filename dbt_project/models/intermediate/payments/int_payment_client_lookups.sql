-- What the client master says about each payment, independent of any cutoff: whether its exported
-- client_id is a known client, and how many clients (and which, when exactly one) carry its payer_name.
-- The client master is a snapshot without history, so names are matched against today's list.
with payments as (
    select payment_id, client_id, payer_name from {{ ref('stg_payments') }}
),

clients as (
    select client_id, client_name from {{ ref('stg_clients') }}
),

client_names as (
    select
        trim(client_name) as client_name,
        count(*) as clients_with_name,
        min(client_id) as client_id
    from clients
    group by trim(client_name)
),

final as (
    select
        p.payment_id,
        k.client_id as known_client_id,
        n.clients_with_name,
        n.client_id as name_client_id
    from payments as p
    left join clients as k on k.client_id = p.client_id
    left join client_names as n on n.client_name = trim(p.payer_name)
)

select * from final
