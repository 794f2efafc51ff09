-- One row per live task (created on or before the as-of date, not cancelled) with its progress state:
-- the rows int_task_progress_rows keeps incrementally (the state rule and the keys live there).
with detail as (
    select * exclude (input_fingerprint) from {{ ref('int_task_progress_rows') }}
),

final as (
    select * from detail
)

select * from final
