-- Rename/cast only: raw.targets is already typed and deduplicated by the loader.
with source as (
    select * from {{ source('raw', 'targets') }}
),

final as (
    select
        cast(period as varchar) as period,
        cast(metric as varchar) as metric,
        cast(scope_type as varchar) as scope_type,
        cast(scope_id as varchar) as scope_id,
        cast(target_value as double) as target_value,
        cast(_source_file as varchar) as source_file,
        cast(_source_line as integer) as source_line
    from source
)

select * from final
