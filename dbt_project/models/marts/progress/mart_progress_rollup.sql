-- 进度汇总（单一维度）: mart_progress_detail counted per period × one dimension at a time — service
-- type, industry, team, staff member — and per period for the whole firm, with the same counts as
-- mart_progress_summary (metric_progress_state) plus tasks at risk, and the completion rate. Each row
-- and each status cell has a drill key: the progress-rollup page lists exactly the tasks counted.
{#- (dimension, value, label): the rollup key of each dimension is mart_progress_detail.<dimension>_rollup_key
    = period|dimension|value, so the roll-up and its drill-through read the same key -#}
{%- set dims = [
    ('service_type', 'service_type', 'service_type_cn'),
    ('industry', "coalesce(industry, 'unknown')", "coalesce(industry_cn, '未知')"),
    ('team', "coalesce(team, 'unassigned')", "coalesce(team, '未分配')"),
    ('staff', 'staff_id', 'staff_name'),
    ('firm', "'all'", "'全公司'"),
] %}
-- Incremental by period (macros/period_fingerprints.sql): a night rebuilds only the periods whose
-- fingerprint (int_task_period_fingerprints, with the partial-period flag) changed.
-- depends_on: {{ ref('int_task_period_fingerprints') }}
with detail as (
    select * from {{ ref('mart_progress_detail') }}
    {{ rebuilt_periods_filter('int_task_period_fingerprints', 'period', 'period') }}
),

counted as (
    {%- for dim, key, label in dims %}
    select
        {{ dim }}_rollup_key as rollup_key,
        period,
        '{{ dim }}' as dimension_type,
        {{ key }} as dimension_value,
        {{ label }} as dimension_value_cn,
        count(*) as task_count,
        count(*) filter (where state = 'completed') as completed_count,
        count(*) filter (where state in ('not_started', 'in_progress')) as not_completed_count,
        count(*) filter (where state = 'delayed') as delayed_count,
        count(*) filter (where state = 'delayed' and not is_done) as overdue_open_count,
        count(*) filter (where status_color = 'amber') as at_risk_count,
        count(*) filter (where is_done) as done_count
    from detail
    group by {{ dim }}_rollup_key, period, {{ key }}, {{ label }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        rollup_key,
        period,
        period >= strftime({{ as_of() }}, '%Y-%m') as is_partial_period,
        dimension_type,
        case dimension_type
            when 'service_type' then '服务类型' when 'industry' then '行业' when 'team' then '部门'
            when 'staff' then '员工' else '全公司'
        end as dimension_type_cn,
        dimension_value,
        dimension_value_cn,
        cast(task_count as integer) as task_count,
        cast(completed_count as integer) as completed_count,
        cast(not_completed_count as integer) as not_completed_count,
        cast(delayed_count as integer) as delayed_count,
        cast(overdue_open_count as integer) as overdue_open_count,
        cast(at_risk_count as integer) as at_risk_count,
        cast(done_count as integer) as done_count,
        cast(done_count as double) / task_count as completion_rate,
        -- drill-through keys, as mart_progress_summary's: the whole row, and each status cell
        md5(rollup_key) as detail_key,
        md5(rollup_key || '|completed') as completed_key,
        md5(rollup_key || '|not_completed') as not_completed_key,
        md5(rollup_key || '|delayed') as delayed_key
    from counted
)

select * from final
