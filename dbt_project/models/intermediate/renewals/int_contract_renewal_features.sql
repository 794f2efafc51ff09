-- Renewal-model features, one row per recurring contract (billing_cycle <> 'one_off': one-off
-- services do not renew), each measured on its feature_date = least(as_of_date, end_date −
-- var renewal_feature_lead_days): the contract as it looked while approaching its end, so a training
-- example (an ended contract) and a scored one (ending soon) are described by the same kind of facts.
-- Used by orchestration/models/renewal.py: trains on rows whose renewal_window_closed (label
-- renewed_within_30d) and scores contracts in force ending within 180 days.
-- An export's history starts somewhere (real firms' feedback systems are often younger than their
-- billing): feedback_observed_days says how much of a contract's feature window the feedback export
-- covers, so the model can tell "no complaint" from "not observed" (renewal.py fills the unobserved
-- part of `complaints` at the training rows' observed rate).
with feedback_history as (
    -- the first day the feedback export covers (null: no feedback exported at all)
    select min(feedback_date) as observed_from
    from {{ ref('fct_feedback') }}
    where feedback_date <= {{ as_of() }}
),

contracts as (
    select
        k.*,
        greatest(
            k.start_date,
            least({{ as_of() }}, k.end_date - {{ var('renewal_feature_lead_days') }})
        ) as feature_date,
        c.industry,
        c.taxpayer_type,
        c.signed_date as client_signed_date
    from {{ ref('dim_contracts') }} as k
    inner join {{ ref('dim_clients') }} as c on c.client_id = k.client_id
    where k.billing_cycle <> 'one_off'
      and k.start_date <= {{ as_of() }}
      and k.effective_signed_date <= {{ as_of() }}
),

successors as (
    select contract_id, effective_signed_date from {{ ref('dim_contracts') }}
),

invoice_behaviour as (
    -- invoices due by the feature date, late as they stood on that date
    select
        k.contract_id,
        count(*) as invoices_due,
        avg(greatest(0, least(coalesce(i.fully_paid_date, k.feature_date), k.feature_date) - i.due_date))
            as avg_days_late,
        avg(case when coalesce(i.fully_paid_date, k.feature_date + 1) > i.due_date then 1 else 0 end)
            as overdue_share
    from contracts as k
    inner join {{ ref('fct_invoices') }} as i
        on i.contract_id = k.contract_id
        and not i.is_void
        and i.due_date < k.feature_date
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
        and p.paid_date between k.start_date and k.feature_date
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
        and f.feedback_date between k.start_date and k.feature_date
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
        and t.due_date between k.start_date and k.feature_date
    group by k.contract_id
),

-- the client's other contracts whose renewal outcome was known by the feature date
prior_outcomes as (
    select
        k.contract_id,
        count(*) as prior_contracts_ended,
        avg(case when p.renewed_within_30d then 1.0 else 0.0 end) as prior_renewed_share
    from contracts as k
    inner join contracts as p
        on p.client_id = k.client_id
        and p.contract_id <> k.contract_id
        and p.end_date + 30 < k.feature_date
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
        k.feature_date,
        k.feature_date - k.start_date as feature_window_days,
        case
            when fh.observed_from is null then 0
            else greatest(0, k.feature_date - greatest(k.start_date, fh.observed_from))
        end as feedback_observed_days,
        k.state_as_of,
        cast(k.fee_per_cycle as double) as fee_per_cycle,
        cast(k.annualized_value as double) as annualized_value,
        k.term_months,
        k.renewal_count,
        coalesce(po.prior_contracts_ended, 0) as prior_contracts_ended,
        po.prior_renewed_share,
        datediff('month', k.client_signed_date, k.feature_date) as client_tenure_months,
        coalesce(ib.invoices_due, 0) as invoices_due,
        coalesce(ib.avg_days_late, 0) as avg_days_late,
        coalesce(ib.overdue_share, 0) as overdue_share,
        coalesce(ch.channel, 'none') as main_channel,
        f.avg_satisfaction,
        coalesce(f.complaints, 0) as complaints,
        coalesce(td.late_task_share, 0) as late_task_share,
        coalesce(td.avg_task_days_late, 0) as avg_task_days_late,
        k.renewed_by_contract_id is not null as is_renewed,
        coalesce(s.effective_signed_date <= k.feature_date, false) as renewed_before_feature_date,
        k.renewed_within_30d,
        k.renewal_window_closed
    from contracts as k
    left join successors as s on s.contract_id = k.renewed_by_contract_id
    left join invoice_behaviour as ib on ib.contract_id = k.contract_id
    left join channels as ch on ch.contract_id = k.contract_id and ch.rn = 1
    left join feedback as f on f.contract_id = k.contract_id
    left join task_delays as td on td.contract_id = k.contract_id
    left join prior_outcomes as po on po.contract_id = k.contract_id
    cross join feedback_history as fh
)

select * from final
