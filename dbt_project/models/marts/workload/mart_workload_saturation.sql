-- 饱和度: per accountant × work month, the client-periods of bookkeeping they carry, their capacity,
-- whether they are saturated (doc metric_workload_saturation) and how their error rate that month
-- compares with their unsaturated months. The work month of a task is its due month.
-- Loads, capacity and the saturation flag come from int_workload_saturation.
{%- set multiplier = var('saturation_multiplier') %}
with flagged as (
    select * from {{ ref('int_workload_saturation') }}
),

-- this month's error rate is the month row of mart_workload_staff_period (completion month)
quality as (
    select
        f.*,
        coalesce(w.completed_bookkeeping, 0) as bookkeeping_completed,
        coalesce(w.error_count, 0) as error_count,
        w.error_rate
    from flagged as f
    left join {{ ref('mart_workload_staff_period') }} as w
        on w.period_grain = 'month' and w.period_start = f.month_start and w.staff_id = f.staff_id
),

-- pooled error rate over the person's other unsaturated months (the baseline for quality change)
baseline as (
    select
        *,
        sum(case when not is_saturated then error_count else 0 end) over (partition by staff_id)
            - case when not is_saturated then error_count else 0 end as baseline_errors,
        sum(case when not is_saturated then bookkeeping_completed else 0 end) over (partition by staff_id)
            - case when not is_saturated then bookkeeping_completed else 0 end as baseline_bookkeeping
    from quality
),

final as (
    select
        period || '|' || staff_id as saturation_key,
        period,
        month_start,
        month_end > {{ as_of() }} as is_partial_month,
        staff_id,
        staff_name,
        team,
        monthly_capacity,
        cast(load_client_periods as integer) as load_client_periods,
        cast(team_median_load as double) as team_median_load,
        cast({{ multiplier }} as double) as saturation_multiplier,
        cast(capacity as double) as capacity,
        capacity_source,
        is_over_capacity,
        is_over_team_median,
        is_saturated,
        case when is_saturated then '饱和' else '正常' end as saturation_cn,
        cast(bookkeeping_completed as integer) as bookkeeping_completed,
        cast(error_count as integer) as error_count,
        error_rate,
        cast(baseline_bookkeeping as integer) as baseline_bookkeeping_completed,
        cast(case when baseline_bookkeeping > 0 then baseline_errors / baseline_bookkeeping end as double)
            as baseline_error_rate,
        cast(error_rate - case when baseline_bookkeeping > 0 then baseline_errors / baseline_bookkeeping end
             as double) as error_rate_change
    from baseline
)

select * from final
