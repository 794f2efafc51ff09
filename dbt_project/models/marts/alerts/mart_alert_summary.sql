-- 预警汇总: open alerts per list (action / write-off review) × type, plus one 'all' row per list,
-- with counts per severity and the money at stake, so pages and the digest select counts.
with alerts as (
    select * from {{ ref('mart_alerts') }}
),

aggregated as (
    select
        alert_list,
        coalesce(alert_type, 'all') as alert_type,
        coalesce(alert_type_cn, '全部') as alert_type_cn,
        count(*) as open_alerts,
        count(*) filter (where severity = 'high') as high_alerts,
        count(*) filter (where severity = 'medium') as medium_alerts,
        count(*) filter (where severity = 'low') as low_alerts,
        sum(amount_at_stake) as amount_at_stake,
        max(priority_score) as max_priority_score
    from alerts
    group by grouping sets ((alert_list, alert_type, alert_type_cn), (alert_list))
),

lists (alert_list, alert_list_cn) as (
    values ('action', '待处理预警'), ('write_off_review', '坏账核销候选')
),

final as (
    select
        l.alert_list || '|' || t.alert_type as summary_key,
        l.alert_list,
        l.alert_list_cn,
        t.alert_type,
        t.alert_type_cn,
        cast(coalesce(a.open_alerts, 0) as integer) as open_alerts,
        cast(coalesce(a.high_alerts, 0) as integer) as high_alerts,
        cast(coalesce(a.medium_alerts, 0) as integer) as medium_alerts,
        cast(coalesce(a.low_alerts, 0) as integer) as low_alerts,
        cast(coalesce(a.amount_at_stake, 0) as decimal(18, 2)) as amount_at_stake,
        cast(round(coalesce(a.amount_at_stake, 0) / 10000, 2) as double) as amount_at_stake_wan,
        cast(a.max_priority_score as double) as max_priority_score
    from lists as l
    -- every list has its 'all' row even when empty; type rows only where alerts exist
    cross join (select 'all' as alert_type, '全部' as alert_type_cn) as t
    left join aggregated as a on a.alert_list = l.alert_list and a.alert_type = 'all'
    union all
    select
        a.alert_list || '|' || a.alert_type, a.alert_list, l.alert_list_cn, a.alert_type, a.alert_type_cn,
        cast(a.open_alerts as integer), cast(a.high_alerts as integer), cast(a.medium_alerts as integer),
        cast(a.low_alerts as integer), cast(a.amount_at_stake as decimal(18, 2)),
        cast(round(a.amount_at_stake / 10000, 2) as double), cast(a.max_priority_score as double)
    from aggregated as a
    inner join lists as l on l.alert_list = a.alert_list
    where a.alert_type <> 'all'
)

select * from final
