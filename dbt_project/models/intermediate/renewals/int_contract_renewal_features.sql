-- Renewal-model features, one row per recurring contract (billing_cycle <> 'one_off': one-off
-- services do not renew), measured over the contract's own term up to min(end_date, as_of_date).
-- Used by orchestration/models/renewal.py both to train (ended contracts, label renewed_within_30d
-- once renewal_window_closed) and to score (contracts ending in the next 180 days).
with contracts as (
    select
        k.*,
        least(k.end_date, {{ as_of() }}) as observed_until,
        c.industry,
        c.taxpayer_type,
        c.signed_date as client_signed_date
    from {{ ref('dim_contracts') }} as k
    inner join {{ ref('dim_clients') }} as c on c.client_id = k.client_id
    where k.billing_cycle <> 'one_off'
      and k.start_date <= {{ as_of() }}
      and k.effective_signed_date <= {{ as_of() }}
),

invoice_behaviour as (
    select
        k.contract_id,
        count(*) as invoices_due,
        avg(greatest(0, coalesce(i.fully_paid_date, {{ as_of() }}) - i.due_date)) as avg_days_late,
        avg(case
            when i.is_fully_paid and i.fully_paid_date > i.due_date then 1
            when not i.is_fully_paid and i.days_past_due > 0 then 1
            else 0
        end) as overdue_share
    from contracts as k
    inner join {{ ref('fct_invoices') }} as i
        on i.contract_id = k.contract_id
        and not i.is_void
        and i.due_date <= k.observed_until
    group by k.contract_id
),

channels as (
    select
        k.contract_id,
        p.channel,
        count(*) as n,
        row_number() over (partition by k.contract_id order by count(*) desc, p.channel) as rn
    from contracts as k
    inner join {{ ref('fct_payments') }} as p
        on p.resolved_client_id = k.client_id
        and p.paid_date between k.start_date and k.observed_until
    group by k.contract_id, p.channel
),

feedback as (
    select
        k.contract_id,
        avg(f.score) as avg_satisfaction,
        count(*) filter (where f.is_complaint) as complaints
    from contracts as k
    inner join {{ ref('fct_feedback') }} as f
        on f.client_id = k.client_id
        and f.feedback_date between k.start_date and k.observed_until
    group by k.contract_id
),

task_delays as (
    select
        k.contract_id,
        count(*) as tasks_due,
        avg(case when t.days_late > 0 then 1 else 0 end) as late_task_share,
        avg(t.days_late) as avg_task_days_late
    from contracts as k
    inner join {{ ref('fct_tasks') }} as t
        on t.client_id = k.client_id
        and t.status_as_of <> 'cancelled'
        and t.due_date between k.start_date and k.observed_until
    group by k.contract_id
),

final as (
    select
        k.contract_id,
        k.client_id,
        k.service_type,
        k.billing_cycle,
        k.industry,
        k.taxpayer_type,
        k.start_date,
        k.end_date,
        k.state_as_of,
        cast(k.fee_per_cycle as double) as fee_per_cycle,
        cast(k.annualized_value as double) as annualized_value,
        k.term_months,
        k.renewal_count,
        datediff('month', k.client_signed_date, k.observed_until) as client_tenure_months,
        coalesce(ib.invoices_due, 0) as invoices_due,
        coalesce(ib.avg_days_late, 0) as avg_days_late,
        coalesce(ib.overdue_share, 0) as overdue_share,
        coalesce(ch.channel, 'none') as main_channel,
        f.avg_satisfaction,
        coalesce(f.complaints, 0) as complaints,
        coalesce(td.late_task_share, 0) as late_task_share,
        coalesce(td.avg_task_days_late, 0) as avg_task_days_late,
        k.renewed_by_contract_id is not null as is_renewed,
        k.renewed_within_30d,
        k.renewal_window_closed
    from contracts as k
    left join invoice_behaviour as ib on ib.contract_id = k.contract_id
    left join channels as ch on ch.contract_id = k.contract_id and ch.rn = 1
    left join feedback as f on f.contract_id = k.contract_id
    left join task_delays as td on td.contract_id = k.contract_id
)

select * from final
