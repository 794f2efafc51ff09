-- Rename/cast only: raw.payments is already typed and deduplicated by the loader.
with source as (
    select * from {{ source('raw', 'payments') }}
),

final as (
    select
        cast(payment_id as varchar) as payment_id,
        cast(client_id as varchar) as client_id,
        cast(invoice_id as varchar) as invoice_id,
        cast(paid_date as date) as paid_date,
        cast(amount as decimal(18,2)) as amount,
        cast(channel as varchar) as channel,
        cast(payer_name as varchar) as payer_name,
        cast(reference as varchar) as reference,
        cast(updated_at as timestamp) as updated_at,
        cast(_source_file as varchar) as source_file,
        cast(_source_line as integer) as source_line
    from source
)

select * from final
