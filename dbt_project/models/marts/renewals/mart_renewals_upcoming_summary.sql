-- 续费预警汇总: the upcoming-renewals list (mart_renewals_upcoming) counted per segment and for all
-- segments together, so the renewals page only selects. One row per segment (高价值 / 潜力 /
-- 流失风险, every segment present even with no contract) plus segment 'all' (全部).
with upcoming as (
    select * from {{ ref('mart_renewals_upcoming') }}
),

segments (segment, segment_cn, segment_sort) as (
    values
        ('churn_risk', '流失风险', 1),
        ('high_value', '高价值', 2),
        ('potential', '潜力', 3),
        ('all', '全部', 0)
),

aggregated as (
    select
        coalesce(segment, 'all') as segment,
        count(*) as contracts,
        sum(annualized_value) as annualized_value,
        sum(outstanding_amount) as outstanding_amount,
        count(renewal_probability) as scored_contracts,
        -- the mean over an exact DECIMAL sum: avg() over DOUBLE adds in a thread-dependent order, so two
        -- runs of the same night differed in the last digit (benchmark `compare`, 10k and 100k clients)
        sum(cast(renewal_probability as decimal(38, 18))) / count(renewal_probability) as avg_renewal_probability
    from upcoming
    group by grouping sets ((segment), ())
),

final as (
    select
        s.segment,
        s.segment_cn,
        cast(s.segment_sort as integer) as segment_sort,
        cast(coalesce(a.contracts, 0) as integer) as contracts,
        cast(coalesce(a.annualized_value, 0) as decimal(18, 2)) as annualized_value,
        cast(round(coalesce(a.annualized_value, 0) / 10000, 2) as double) as annualized_value_wan,
        cast(coalesce(a.outstanding_amount, 0) as decimal(18, 2)) as outstanding_amount,
        cast(coalesce(a.scored_contracts, 0) as integer) as scored_contracts,
        cast(a.avg_renewal_probability as double) as avg_renewal_probability,
        cast({{ var('renewal_window_days') }} as integer) as window_days
    from segments as s
    left join aggregated as a on a.segment = s.segment
)

select * from final
