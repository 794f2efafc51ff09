-- Rename/cast only: raw.feedback is already typed and deduplicated by the loader.
with source as (
    select * from {{ source('raw', 'feedback') }}
),

final as (
    select
        cast(feedback_id as varchar) as feedback_id,
        cast(client_id as varchar) as client_id,
        cast(feedback_date as date) as feedback_date,
        cast(score as integer) as score,
        cast(is_complaint as boolean) as is_complaint,
        cast(category as varchar) as category,
        cast(updated_at as timestamp) as updated_at,
        cast(_source_file as varchar) as source_file,
        cast(_source_line as integer) as source_line
    from source
)

select * from final
