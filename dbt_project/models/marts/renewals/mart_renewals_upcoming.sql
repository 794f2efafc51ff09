-- 续费预警: contracts in force that end within the renewal window after the as-of date and have no
-- successor signed yet, with the client's satisfaction, complaints and payment behaviour over the
-- trailing 12 months, a segment (rule: doc metric_renewal_segment) and the action for that segment.
{%- set window_days = var('renewal_window_days') %}
{%- set min_satisfaction = var('renewal_churn_satisfaction_below') %}
{%- set min_complaints = var('renewal_churn_complaints_at_least') %}
{%- set max_overdue_share = var('renewal_churn_overdue_share_above') %}
{%- set high_value_quantile = var('renewal_high_value_quantile') %}
{%- set include_one_off = var('renewal_include_one_off') %}
{%- set grace_days = var('renewal_overdue_grace_days') %}

with contracts as (
    select * from {{ ref('dim_contracts') }}
    {%- if not include_one_off %}
    -- one-off projects (registration, audit, ...) carry no renewal expectation
    where billing_cycle <> 'one_off'
    {%- endif %}
),

clients as (
    select * from {{ ref('dim_clients') }}
),

upcoming as (
    select *
    from contracts
    where state_as_of = 'active'
      and end_date between {{ as_of() }} and {{ as_of() }} + {{ window_days }}
      and renewed_by_contract_id is null
),

-- 75th percentile (by default) of annualized value over the firm's contracts in force
high_value_threshold as (
    select quantile_cont(annualized_value, {{ high_value_quantile }}) as threshold
    from contracts
    where state_as_of = 'active'
),

feedback_12m as (
    select
        client_id,
        avg(score) as satisfaction_score,
        count(score) as scored_feedback_count,
        count(*) filter (where is_complaint) as complaint_count
    from {{ ref('fct_feedback') }}
    where feedback_date > {{ as_of() }} - interval 12 month
    group by client_id
),

-- invoices due in the trailing 12 months: how late each was paid (or is, while unpaid)
invoices_due_12m as (
    select
        client_id,
        case
            when is_fully_paid then greatest(0, datediff('day', due_date, fully_paid_date))
            else days_past_due
        end as days_late
    from {{ ref('fct_invoices') }}
    where not is_void
      and due_date > {{ as_of() }} - interval 12 month
      and due_date <= {{ as_of() }}
),

payment_behaviour as (
    select
        client_id,
        count(*) as invoices_due_12m,
        avg(days_late) as avg_days_late,
        count(*) filter (where days_late > {{ grace_days }}) / count(*) as overdue_share
    from invoices_due_12m
    group by client_id
),

receivables as (
    select
        client_id,
        sum(open_receivable_amount) as outstanding_amount,
        sum(case when days_past_due > 0 then open_receivable_amount else 0 end) as overdue_amount
    from {{ ref('fct_invoices') }}
    group by client_id
),

-- the client's earlier contracts whose 30-day renewal window is settled (closed or renewed)
renewal_history as (
    select
        client_id,
        count(*) as prior_contracts_ended,
        count(*) filter (where renewed_within_30d) as prior_renewed_within_30d
    from contracts
    where end_date < {{ as_of() }}
      and (renewal_window_closed or renewed_within_30d)
    group by client_id
),

assessed as (
    select
        u.*,
        datediff('day', {{ as_of() }}, u.end_date) as days_to_end,
        f.satisfaction_score,
        coalesce(f.scored_feedback_count, 0) as scored_feedback_count,
        coalesce(f.complaint_count, 0) as complaint_count,
        p.invoices_due_12m,
        p.avg_days_late,
        p.overdue_share,
        coalesce(r.outstanding_amount, 0) as outstanding_amount,
        coalesce(r.overdue_amount, 0) as overdue_amount,
        coalesce(h.prior_contracts_ended, 0) as prior_contracts_ended,
        coalesce(h.prior_renewed_within_30d, 0) as prior_renewed_within_30d,
        t.threshold as high_value_threshold
    from upcoming as u
    cross join high_value_threshold as t
    left join feedback_12m as f on f.client_id = u.client_id
    left join payment_behaviour as p on p.client_id = u.client_id
    left join receivables as r on r.client_id = u.client_id
    left join renewal_history as h on h.client_id = u.client_id
),

scores as (
    -- the nightly renewal model's calibrated probability (ml/renewal_scores via mart_renewal_scores)
    select contract_id, renewal_probability from {{ ref('mart_renewal_scores') }}
),

segmented as (
    select
        a.*,
        sc.renewal_probability,
        case
            -- the model decides where it scored the contract; the signal rule only where it did not
            when sc.renewal_probability is not null
                then sc.renewal_probability < {{ var('renewal_churn_probability_below') }}
            -- a missing signal (no scored feedback, no invoice due) never triggers churn risk by itself
            else coalesce(a.satisfaction_score < {{ min_satisfaction }}, false)
                or a.complaint_count >= {{ min_complaints }}
                or coalesce(a.overdue_share > {{ max_overdue_share }}, false)
        end as is_churn_risk,
        case
            when is_churn_risk then 'churn_risk'
            when a.annualized_value >= a.high_value_threshold then 'high_value'
            else 'potential'
        end as segment
    from assessed as a
    left join scores as sc on sc.contract_id = a.contract_id
),

segment_actions (segment, segment_cn, recommended_action) as (
    values
        ('churn_risk', '流失风险',
         '主管 7 日内回访：先处理投诉与欠费，了解不满原因，必要时给予续约优惠或更换负责会计'),
        ('high_value', '高价值',
         '负责会计与销售提前 60 天上门沟通续约，推荐年付并介绍增值服务，确保到期前签约'),
        ('potential', '潜力',
         '到期前 30 天发送续约提醒与报价，推介税务筹划等增值服务以提升客单价')
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
        a.recommended_action,
        cast(s.renewal_probability as double) as renewal_probability
    from segmented as s
    inner join segment_actions as a on a.segment = s.segment
    left join clients as c on c.client_id = s.client_id
)

select * from final
