-- Progress counts per period × service type × industry × team × staff, aggregated from
-- mart_progress_detail so every number drills through to its rows by summary_key.
-- Incremental by period (macros/period_fingerprints.sql): a night rebuilds only the periods whose
-- fingerprint (int_task_period_fingerprints) changed and keeps the rows of the others.
-- depends_on: {{ ref('int_task_period_fingerprints') }}
with detail as (
    select * from {{ ref('mart_progress_detail') }}
    {{ rebuilt_periods_filter('int_task_period_fingerprints', 'period', 'period') }}
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
        cast(count(*) filter (where state = 'delayed' and not is_done) as integer) as overdue_open_count,
        cast(count(*) filter (where status_color = 'amber') as integer) as at_risk_count
    from detail
    group by all
),

final as (
    select
        *,
        cast(done_count as double) / task_count as completion_rate,
        -- drill-through keys: the detail rows behind the whole row / one status cell (mart_progress_detail.drill_key)
        md5(summary_key) as detail_key,
        md5(summary_key || '|completed') as completed_key,
        md5(summary_key || '|not_completed') as not_completed_key,
        md5(summary_key || '|delayed') as delayed_key
    from counted
)

select * from final
