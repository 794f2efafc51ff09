{{ config(schema='intermediate') }}
-- TODO(renewals mart): once mart_renewals_upcoming (segment_code = 'churn_risk') is merged, select
-- its churn-risk contracts here instead of this stand-in rule, so the segment is defined once.
-- Stand-in: recurring contract in force, ending within var alert_churn_window_days (90), no
-- successor signed, and the client shows distress in the last 180 days: a complaint, mean
-- satisfaction below 3, or an invoice more than 30 days past due.
with ending as (
    select k.*
    from {{ ref('dim_contracts') }} as k
    where k.is_in_force
      and k.billing_cycle <> 'one_off'
      and k.renewed_by_contract_id is null
      and k.end_date between {{ as_of() }} and {{ as_of() }} + {{ var('alert_churn_window_days', 90) }}
),

feedback as (
    select
        client_id,
        count(*) filter (where is_complaint) as complaints,
        avg(score) as avg_score
    from {{ ref('fct_feedback') }}
    where feedback_date > {{ as_of() }} - 180
    group by client_id
),

overdue as (
    select client_id, max(days_past_due) as max_days_past_due
    from {{ ref('fct_invoices') }}
    where open_receivable_amount > 0
    group by client_id
),

final as (
    select
        e.contract_id,
        e.client_id,
        e.end_date,
        coalesce(f.complaints, 0) as complaints,
        f.avg_score,
        coalesce(o.max_days_past_due, 0) as max_days_past_due
    from ending as e
    left join feedback as f on f.client_id = e.client_id
    left join overdue as o on o.client_id = e.client_id
    where coalesce(f.complaints, 0) > 0
       or f.avg_score < 3
       or coalesce(o.max_days_past_due, 0) > 30
)

select * from final
