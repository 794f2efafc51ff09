-- Rename/cast only: raw.invoices is already typed and deduplicated by the loader.
with source as (
    select * from {{ source('raw', 'invoices') }}
),

final as (
    select
        cast(invoice_id as varchar) as invoice_id,
        cast(client_id as varchar) as client_id,
        cast(contract_id as varchar) as contract_id,
        cast(issue_date as date) as issue_date,
        cast(due_date as date) as due_date,
        cast(amount as decimal(18,2)) as amount,
        cast(status as varchar) as status,
        cast(updated_at as timestamp) as updated_at,
        cast(_source_file as varchar) as source_file,
        cast(_source_line as integer) as source_line
    from source
)

select * from final
