-- Churn-risk contracts are exactly the renewal list's 流失风险 segment (defined once in
-- int_renewal_segments, which mart_renewals_upcoming publishes), plus the client's worst days past
-- due for the alert message (and the open invoice it counts from: max(days_past_due) of open invoices is
-- greatest(0, as_of - min(due_date)), fct_invoices' rule).
with churn as (
    select contract_id, client_id, end_date, complaint_count, satisfaction_score, renewal_probability
    from {{ ref('int_renewal_segments') }}
    where segment = 'churn_risk'
      and end_date <= {{ as_of() }} + {{ var('alert_churn_window_days') }}
),

overdue as (
    select client_id, max(days_past_due) as max_days_past_due, min(due_date) as oldest_open_due_date
    from {{ ref('fct_invoices') }}
    where open_receivable_amount > 0
    group by client_id
),

final as (
    select
        c.contract_id,
        c.client_id,
        c.end_date,
        c.complaint_count as complaints,
        c.satisfaction_score as avg_score,
        c.renewal_probability,
        coalesce(o.max_days_past_due, 0) as max_days_past_due,
        o.oldest_open_due_date
    from churn as c
    left join overdue as o on o.client_id = c.client_id
)

select * from final
