-- 差距归因: for each month where a company metric missed its target, which industry / team explains
-- most of the shortfall, measured against that industry's / team's own target.
-- collected_amount: contribution = dimension target − dimension actual (yuan), by industry and by
-- team (the team of the client's accountant); a dimension with a target and no collections counts
-- with actual 0. on_time_rate: contribution = (dimension target − dimension rate) × the dimension's
-- share of tasks due, i.e. rate points of the company rate, by industry and by team.
with missed as (
    select period, metric, actual, target
    from {{ ref('mart_kpi_cockpit') }}
    where metric in ('collected_amount', 'on_time_rate') and actual < target
),

collected_by_industry as (
    select period, 'collected_amount' as metric, 'industry' as dimension_type, industry as dimension_value,
           sum(collected_amount)::double as actual, null::double as weight
    from {{ ref('mart_collections_by_period') }}
    where period_grain = 'month'
    group by all
),

-- the collections mart has no team column: the same applied amounts, from its event source
collected_by_team as (
    select strftime(event_date, '%Y-%m') as period, 'collected_amount' as metric, 'team' as dimension_type,
           team as dimension_value, sum(collected_amount)::double as actual, null::double as weight
    from {{ ref('int_collection_events') }}
    where event_date <= {{ as_of() }} and team is not null
    group by all
),

on_time as (
    select period, 'industry' as dimension_type, industry as dimension_value,
           sum(tasks_on_time) as on_time, sum(tasks_due) as due
    from {{ ref('int_cockpit_task_contract_metrics') }} group by all
    union all
    select period, 'team', team, sum(tasks_on_time), sum(tasks_due)
    from {{ ref('int_cockpit_task_contract_metrics') }} group by all
),

on_time_share as (
    select period, 'on_time_rate' as metric, dimension_type, dimension_value,
           on_time / nullif(due, 0) as actual,
           due / nullif(sum(due) over (partition by period, dimension_type), 0) as weight
    from on_time
    where due > 0
),

dimension_actuals as (
    select * from collected_by_industry
    union all
    select * from collected_by_team
    union all
    select * from on_time_share
),

scored as (
    select
        t.period, t.metric, t.scope_type as dimension_type, t.scope_id as dimension_value,
        coalesce(d.actual, 0) as actual,
        t.target_value as target,
        case when t.metric = 'on_time_rate' then (t.target_value - d.actual) * d.weight
             else t.target_value - coalesce(d.actual, 0) end as gap_contribution
    from {{ ref('fct_targets') }} as t
    inner join missed as m on m.period = t.period and m.metric = t.metric
    left join dimension_actuals as d
        on d.period = t.period and d.metric = t.metric and d.dimension_type = t.scope_type
       and d.dimension_value = t.scope_id
    where t.scope_type in ('industry', 'team')
      -- a rate needs tasks due in the dimension; an amount without collections is a full gap
      and (t.metric = 'collected_amount' or d.dimension_value is not null)
),

ranked as (
    select
        *,
        gap_contribution / nullif(sum(greatest(gap_contribution, 0))
            over (partition by period, metric, dimension_type), 0) as share_of_gap,
        row_number() over (
            partition by period, metric, dimension_type order by gap_contribution desc, dimension_value
        ) as gap_rank
    from scored
),

final as (
    select
        r.period || '|' || r.metric || '|' || r.dimension_type || '|' || r.dimension_value as attribution_key,
        r.period,
        r.metric,
        case r.metric when 'collected_amount' then '回款额' else '按时完成率' end as metric_cn,
        r.dimension_type,
        case r.dimension_type when 'industry' then '行业' else '部门' end as dimension_type_cn,
        r.dimension_value,
        coalesce(l.label_cn, r.dimension_value) as dimension_value_cn,
        cast(r.actual as double) as actual,
        cast(r.target as double) as target,
        cast(r.gap_contribution as double) as gap_contribution,
        cast(r.share_of_gap as double) as share_of_gap,
        cast(r.gap_rank as integer) as gap_rank,
        r.gap_rank = 1 and r.gap_contribution > 0 as is_top_contributor
    from ranked as r
    left join {{ ref('contract_enum_labels') }} as l
        on r.dimension_type = 'industry' and l.enum_name = 'industry' and l.code = r.dimension_value
)

select * from final
