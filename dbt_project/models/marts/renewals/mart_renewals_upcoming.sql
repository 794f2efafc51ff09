-- 续费预警: contracts in force that end within the renewal window after the as-of date and have no
-- successor signed yet, with the client's satisfaction, complaints and payment behaviour over the
-- trailing 12 months, a segment (rule: doc metric_renewal_segment) and the action for that segment
-- and the days left (doc metric_renewal_recommended_action).
-- The contracts and their segment come from int_renewal_segments.
with tiered as (
    select * from {{ ref('int_renewal_segments') }}
),

clients as (
    select * from {{ ref('dim_clients') }}
),

-- the action per segment: done ahead of the end (days_before_end) when there is still time, else
-- now; the last two weeks always say so. action_by_date = when to have acted. segment_sort = the
-- list's display order (most urgent first).
segment_actions (segment, segment_cn, segment_sort, days_before_end, response_days, action_ahead, action_now) as (
    values
        ('churn_risk', '流失风险', 1, 90, 7,
         '主管 7 日内回访：先处理投诉与欠费，了解不满原因，必要时给予续约优惠或更换负责会计',
         '主管 7 日内回访：先处理投诉与欠费，了解不满原因，必要时给予续约优惠或更换负责会计'),
        ('high_value', '高价值', 2, 60, 14,
         '负责会计与销售在到期前 60 天上门沟通续约，推荐年付并介绍增值服务，确保到期前签约',
         '负责会计与销售 2 周内上门沟通续约，推荐年付并介绍增值服务，确保到期前签约'),
        ('potential', '潜力', 3, 30, 7,
         '到期前 30 天发送续约提醒与报价，推介税务筹划等增值服务以提升客单价',
         '本周内发送续约提醒与报价，推介税务筹划等增值服务以提升客单价')
),

final as (
    select
        s.contract_id,
        s.client_id,
        c.client_name,
        c.industry,
        c.industry_cn,
        c.taxpayer_type,
        c.taxpayer_type_cn,
        s.service_type,
        s.service_type_cn,
        s.billing_cycle,
        s.billing_cycle_cn,
        s.start_date,
        s.end_date,
        cast(s.days_to_end as integer) as days_to_end,
        cast(s.annualized_value as decimal(18, 2)) as annualized_value,
        cast(s.high_value_threshold as decimal(18, 2)) as high_value_threshold,
        cast(s.satisfaction_score as double) as satisfaction_score,
        cast(s.scored_feedback_count as integer) as scored_feedback_count,
        cast(s.complaint_count as integer) as complaint_count,
        cast(coalesce(s.invoices_due_12m, 0) as integer) as invoices_due_12m,
        cast(round(s.avg_days_late, 1) as double) as avg_days_late,
        cast(s.overdue_share as double) as overdue_share,
        cast(s.outstanding_amount as decimal(18, 2)) as outstanding_amount,
        cast(s.overdue_amount as decimal(18, 2)) as overdue_amount,
        cast(s.renewal_count as integer) as renewal_count,
        cast(s.prior_contracts_ended as integer) as prior_contracts_ended,
        cast(s.prior_renewed_within_30d as integer) as prior_renewed_within_30d,
        c.accountant_id,
        c.accountant_name,
        c.team,
        s.segment,
        a.segment_cn,
        cast(a.segment_sort as integer) as segment_sort,
        s.segment_basis,
        s.churn_reasons_cn,
        case
            when s.days_to_end <= 14
                then '距到期仅剩 ' || cast(s.days_to_end as integer) || ' 天，立即处理：' || a.action_now
            when s.days_to_end <= a.days_before_end then a.action_now
            else a.action_ahead
        end as recommended_action,
        least(
            s.end_date,
            greatest({{ as_of() }} + a.response_days, s.end_date - a.days_before_end)
        )::date as action_by_date,
        cast(s.renewal_probability as double) as renewal_probability
    from tiered as s
    inner join segment_actions as a on a.segment = s.segment
    left join clients as c on c.client_id = s.client_id
)

select * from final
