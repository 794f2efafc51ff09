-- Rename/cast only: raw.clients is already typed and deduplicated by the loader.
with source as (
    select * from {{ source('raw', 'clients') }}
),

final as (
    select
        cast(client_id as varchar) as client_id,
        cast(client_name as varchar) as client_name,
        cast(credit_code as varchar) as credit_code,
        cast(taxpayer_type as varchar) as taxpayer_type,
        cast(industry as varchar) as industry,
        cast(region as varchar) as region,
        cast(source as varchar) as acquisition_source,
        cast(signed_date as date) as signed_date,
        cast(accountant_id as varchar) as accountant_id,
        cast(sales_id as varchar) as sales_id,
        cast(contact_phone as varchar) as contact_phone,
        cast(status as varchar) as status,
        cast(updated_at as timestamp) as updated_at,
        cast(_source_file as varchar) as source_file,
        cast(_source_line as integer) as source_line
    from source
)

select * from final
