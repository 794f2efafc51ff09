-- Rename/cast only: raw.tasks is already typed and deduplicated by the loader.
with source as (
    select * from {{ source('raw', 'tasks') }}
),

final as (
    select
        cast(task_id as varchar) as task_id,
        cast(client_id as varchar) as client_id,
        cast(contract_id as varchar) as contract_id,
        cast(service_type as varchar) as service_type,
        cast(stage as varchar) as stage,
        cast(period as varchar) as period,
        cast(assignee_id as varchar) as assignee_id,
        cast(created_at as timestamp) as created_at,
        cast(due_date as date) as due_date,
        cast(started_at as timestamp) as started_at,
        cast(completed_at as timestamp) as completed_at,
        cast(status as varchar) as status,
        cast(depends_on_task_id as varchar) as depends_on_task_id,
        cast(error_count as integer) as error_count,
        cast(outcome as varchar) as outcome,
        cast(updated_at as timestamp) as updated_at,
        cast(_source_file as varchar) as source_file,
        cast(_source_line as integer) as source_line
    from source
)

select * from final
