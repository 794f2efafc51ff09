-- Progress counts per period × service type × industry × team × staff, aggregated from
-- mart_progress_detail so every number drills through to its rows by summary_key.
with detail as (
    select * from {{ ref('mart_progress_detail') }}
),

counted as (
    select
        summary_key,
        period,
        service_type,
        service_type_cn,
        industry,
        industry_cn,
        team,
        staff_id,
        staff_name,
        cast(count(*) as integer) as task_count,
        cast(count(*) filter (where state = 'completed') as integer) as completed_count,
        cast(count(*) filter (where state in ('not_started', 'in_progress')) as integer) as not_completed_count,
        cast(count(*) filter (where state = 'delayed') as integer) as delayed_count,
        cast(count(*) filter (where state = 'not_started') as integer) as not_started_count,
        cast(count(*) filter (where state = 'in_progress') as integer) as in_progress_count,
        cast(count(*) filter (where is_done) as integer) as done_count,
        cast(count(*) filter (where state = 'delayed' and not is_done) as integer) as overdue_open_count
    from detail
    group by all
),

final as (
    select
        *,
        cast(done_count as double) / task_count as completion_rate
    from counted
)

select * from final
