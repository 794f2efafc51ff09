-- 部门工作量: mart_workload_staff_period rolled up to team × period (day, ISO week, month): tasks
-- completed, on time, bookkeeping tasks and their errors, staff who completed anything. Rates are
-- recomputed from the summed counts (same formulas as the staff mart), never averaged.
with staff_period as (
    select * from {{ ref('mart_workload_staff_period') }}
),

aggregated as (
    select
        period_grain,
        period_grain_cn,
        period_start,
        period_end,
        period_label,
        is_partial_period,
        coalesce(team, '未分配') as team,
        sum(tasks_completed) as tasks_completed,
        sum(completed_on_time) as completed_on_time,
        sum(completed_bookkeeping) as completed_bookkeeping,
        sum(error_count) as error_count,
        count(*) filter (where tasks_completed > 0) as active_staff
    from staff_period
    group by all
),

final as (
    select
        period_grain || '|' || strftime(period_start, '%Y-%m-%d') || '|' || team as team_period_key,
        period_grain,
        period_grain_cn,
        period_start,
        period_end,
        period_label,
        is_partial_period,
        team,
        cast(tasks_completed as integer) as tasks_completed,
        cast(completed_on_time as integer) as completed_on_time,
        cast(completed_on_time / nullif(tasks_completed, 0) as double) as on_time_rate,
        cast(completed_bookkeeping as integer) as completed_bookkeeping,
        cast(error_count as integer) as error_count,
        cast(error_count / nullif(completed_bookkeeping, 0) as double) as errors_per_bookkeeping_task,
        cast(active_staff as integer) as active_staff
    from aggregated
)

select * from final
