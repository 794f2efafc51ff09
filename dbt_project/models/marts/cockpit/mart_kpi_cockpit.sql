-- 驾驶舱: one row per month × metric with actual, company target, achievement, previous month and
-- same month last year. Actuals are read from the marts that own each formula, never recomputed.
with months as (
    select distinct period, month_start
    from {{ ref('dim_date') }}
    where date_day <= {{ as_of() }} and date_day > {{ as_of() }} - interval 25 month
),

collections as (
    select period, sum(collected_amount) as collected_amount,
           sum(billed_collected_amount) / nullif(sum(billed_amount), 0) as collection_rate
    from {{ ref('mart_collections_by_period') }}
    where period_grain = 'month'
    group by period
),

owned as (
    select period, sum(tasks_on_time) / nullif(sum(tasks_due), 0) as on_time_rate,
           sum(new_contract_amount) as new_contract_amount
    from {{ ref('int_cockpit_task_contract_metrics') }}
    group by period
),

actuals as (
    select m.period, m.month_start, 'collected_amount' as metric, c.collected_amount::double as actual
    from months as m left join collections as c on c.period = m.period
    union all
    select m.period, m.month_start, 'collection_rate', c.collection_rate
    from months as m left join collections as c on c.period = m.period
    union all
    select m.period, m.month_start, 'renewal_rate', r.renewal_rate
    from months as m left join {{ ref('mart_renewal_rate_firm_monthly') }} as r on r.period = m.period
    union all
    select m.period, m.month_start, 'new_contract_amount', coalesce(o.new_contract_amount, 0)::double
    from months as m left join owned as o on o.period = m.period
    union all
    select m.period, m.month_start, 'on_time_rate', o.on_time_rate
    from months as m left join owned as o on o.period = m.period
    union all
    select m.period, m.month_start, 'clients_per_accountant', w.clients_per_accountant
    from months as m left join {{ ref('mart_workload_firm_monthly') }} as w on w.period = m.period
),

labels (metric, metric_cn, unit, metric_sort) as (
    values ('collected_amount', '回款额', 'cny', 1), ('collection_rate', '收款率', 'pct', 2),
           ('renewal_rate', '续费率', 'pct', 3), ('new_contract_amount', '新签额', 'cny', 4),
           ('on_time_rate', '按时完成率', 'pct', 5), ('clients_per_accountant', '人均服务客户数', 'num', 6)
),

with_history as (
    select
        a.*,
        lag(a.actual) over (partition by a.metric order by a.month_start) as prev_month_actual,
        lag(a.actual, 12) over (partition by a.metric order by a.month_start) as same_month_last_year_actual
    from actuals as a
),

final as (
    select
        h.period || '|' || h.metric as kpi_key,
        h.period,
        h.month_start,
        h.metric,
        l.metric_cn,
        l.unit,
        cast(l.metric_sort as integer) as metric_sort,
        cast(h.actual as double) as actual,
        cast(t.target_value as double) as target,
        cast(h.actual / nullif(t.target_value, 0) as double) as achievement_rate,
        cast(h.prev_month_actual as double) as prev_month_actual,
        cast(h.same_month_last_year_actual as double) as same_month_last_year_actual,
        cast(h.actual - h.prev_month_actual as double) as mom_change,
        cast(h.actual - h.same_month_last_year_actual as double) as yoy_change
    from with_history as h
    inner join labels as l on l.metric = h.metric
    left join {{ ref('fct_targets') }} as t
        on t.period = h.period and t.metric = h.metric and t.scope_type = 'company'
    -- the first 12 months only serve as last year's comparison
    where h.month_start > {{ as_of() }} - interval 13 month
)

select * from final
