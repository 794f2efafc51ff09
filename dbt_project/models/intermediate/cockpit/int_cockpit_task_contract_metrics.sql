-- The two cockpit metrics no report mart owns, defined once here per month × industry × team:
-- on-time completion (tasks due in the month, due ≤ as-of, not cancelled, completed by their due
-- date) and new contract amount (annualized value of contracts signed in the month).
with tasks as (
    select
        t.due_period as period,
        c.industry,
        t.assignee_team as team,
        count(*) as tasks_due,
        count(*) filter (where t.completed_on_time) as tasks_on_time
    from {{ ref('fct_tasks') }} as t
    inner join {{ ref('dim_clients') }} as c on c.client_id = t.client_id
    where t.status_as_of <> 'cancelled' and t.due_date <= {{ as_of() }}
    group by all
),

contracts as (
    select
        strftime(k.effective_signed_date, '%Y-%m') as period,
        c.industry,
        c.team,
        count(*) as new_contracts,
        sum(k.annualized_value) as new_contract_amount
    from {{ ref('dim_contracts') }} as k
    inner join {{ ref('dim_clients') }} as c on c.client_id = k.client_id
    where k.effective_signed_date <= {{ as_of() }}
    group by all
),

final as (
    select
        coalesce(t.period, k.period) as period,
        coalesce(t.industry, k.industry) as industry,
        coalesce(t.team, k.team, '未分配') as team,
        coalesce(t.tasks_due, 0) as tasks_due,
        coalesce(t.tasks_on_time, 0) as tasks_on_time,
        coalesce(k.new_contracts, 0) as new_contracts,
        coalesce(k.new_contract_amount, 0) as new_contract_amount
    from tasks as t
    full outer join contracts as k
        on k.period = t.period and k.industry = t.industry and coalesce(k.team, '') = coalesce(t.team, '')
)

select * from final
