-- Rename/cast only: raw.contracts is already typed and deduplicated by the loader.
with source as (
    select * from {{ source('raw', 'contracts') }}
),

final as (
    select
        cast(contract_id as varchar) as contract_id,
        cast(client_id as varchar) as client_id,
        cast(service_type as varchar) as service_type,
        cast(billing_cycle as varchar) as billing_cycle,
        cast(fee_per_cycle as decimal(18,2)) as fee_per_cycle,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(signed_date as date) as signed_date,
        cast(previous_contract_id as varchar) as previous_contract_id,
        cast(status as varchar) as status,
        cast(updated_at as timestamp) as updated_at,
        cast(_source_file as varchar) as source_file,
        cast(_source_line as integer) as source_line
    from source
)

select * from final
