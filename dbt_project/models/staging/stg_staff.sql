-- Rename/cast only: raw.staff is already typed and deduplicated by the loader.
with source as (
    select * from {{ source('raw', 'staff') }}
),

final as (
    select
        cast(staff_id as varchar) as staff_id,
        cast(staff_name as varchar) as staff_name,
        cast(role as varchar) as role,
        cast(team as varchar) as team,
        cast(hire_date as date) as hire_date,
        cast(leave_date as date) as leave_date,
        cast(monthly_capacity as integer) as monthly_capacity,
        cast(updated_at as timestamp) as updated_at,
        cast(_source_file as varchar) as source_file,
        cast(_source_line as integer) as source_line
    from source
)

select * from final
