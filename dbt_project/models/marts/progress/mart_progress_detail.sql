-- One row per live task (created on or before the as-of date, not cancelled) with its progress state:
-- the rows int_task_progress_rows keeps incrementally (the state rule and the keys live there).
with detail as (
    select * from {{ ref('int_task_progress_rows') }}
),

final as (
    select
        summary_key,
        task_id,
        period,
        period_source,
        service_type,
        service_type_cn,
        industry,
        industry_cn,
        team,
        staff_id,
        staff_name,
        client_id,
        client_name,
        contract_id,
        stage,
        stage_cn,
        status_as_of,
        status_as_of_cn,
        state,
        state_cn,
        is_done,
        state_group,
        status_display,
        status_color,
        drill_key,
        service_type_rollup_key,
        industry_rollup_key,
        team_rollup_key,
        staff_rollup_key,
        firm_rollup_key,
        created_date,
        due_date,
        completed_date,
        days_late
    from detail
)

select * from final
