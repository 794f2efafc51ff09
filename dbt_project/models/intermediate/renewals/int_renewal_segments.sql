-- Contracts up for renewal (in force, ending within the renewal window after the as-of date, no
-- successor signed yet) with the client's satisfaction, complaints and payment behaviour over the
-- trailing 12 months and their segment (rule: doc metric_renewal_segment), defined once here for
-- mart_renewals_upcoming (which adds the action per segment) and the churn-risk alert.
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
    -- the nightly renewal model's calibrated probability (ml/renewal_scores via int_renewal_scores)
    select contract_id, renewal_probability from {{ ref('int_renewal_scores') }}
),

segmented as (
    select
        a.*,
        sc.renewal_probability,
        sc.renewal_probability < {{ var('renewal_churn_probability_below') }} as is_model_churn_risk,
        -- the rules always apply; a missing signal (no scored feedback, no invoice due) never
        -- triggers churn risk by itself
        coalesce(a.satisfaction_score < {{ min_satisfaction }}, false) as is_low_satisfaction,
        a.complaint_count >= {{ min_complaints }} as has_complaints,
        coalesce(a.overdue_share > {{ max_overdue_share }}, false) as is_often_overdue
    from assessed as a
    left join scores as sc on sc.contract_id = a.contract_id
),

-- segment (doc metric_renewal_segment): churn risk when any rule fires OR the model (where it
-- scored the contract) puts the renewal probability below its threshold; else high value; else potential
tiered as (
    select
        *,
        coalesce(is_model_churn_risk, false) or is_low_satisfaction or has_complaints or is_often_overdue
            as is_churn_risk,
        case
            when coalesce(is_model_churn_risk, false) or is_low_satisfaction or has_complaints or is_often_overdue
                then 'churn_risk'
            when annualized_value >= high_value_threshold then 'high_value'
            else 'potential'
        end as segment,
        concat_ws('；',
            case when is_model_churn_risk then '模型续约概率低' end,
            case when is_low_satisfaction then '满意度低' end,
            case when has_complaints then '有投诉' end,
            case when is_often_overdue then '经常逾期付款' end
        ) as churn_reasons_cn,
        case when renewal_probability is null then 'rules' else 'model_and_rules' end as segment_basis
    from segmented
),

final as (
    select * from tiered
)

-- the contract's columns (dim_contracts) with the assessment and the segment
select * from final  -- noqa: AM04
