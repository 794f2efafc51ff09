-- 人均负荷（按服务类型）: per work month (task due month) × service type, the clients served, the
-- client-periods of work, the staff and accountants doing it, and client-periods per accountant.
-- Incremental by month (macros/period_fingerprints.sql): a night rebuilds only the months whose
-- fingerprint (int_task_due_period_fingerprints, with the current / partial flags) changed.
-- depends_on: {{ ref('int_task_due_period_fingerprints') }}
with tasks as (
    select * from {{ ref('fct_tasks') }}
    where status_as_of <> 'cancelled'
      and due_date <= last_day({{ as_of() }})
    {{ rebuilt_periods_filter('int_task_due_period_fingerprints', 'period', 'due_period', 'and') }}
),

aggregated as (
    select
        due_period as period,
        service_type,
        any_value(service_type_cn) as service_type_cn,
        count(distinct client_id) as active_clients,
        -- a one-off task has no service period: its due month stands in
        count(distinct client_id || '|' || coalesce(period, due_period)) as client_periods,
        count(*) as tasks,
        count(distinct assignee_id) as staff_count,
        count(distinct assignee_id) filter (where assignee_role = 'accountant') as accountants
    from tasks
    group by due_period, service_type
),

final as (
    select
        period || '|' || service_type as period_service_key,
        period,
        cast(strptime(period || '-01', '%Y-%m-%d') as date) as month_start,
        period = strftime({{ as_of() }}, '%Y-%m') as is_current_month,
        period = strftime({{ as_of() }}, '%Y-%m') and {{ as_of() }} < last_day({{ as_of() }}) as is_partial_period,
        service_type,
        service_type_cn,
        cast(active_clients as integer) as active_clients,
        cast(client_periods as integer) as client_periods,
        cast(tasks as integer) as tasks,
        cast(staff_count as integer) as staff_count,
        cast(accountants as integer) as accountants,
        cast(case when accountants > 0 then client_periods / accountants end as double) as load_per_accountant
    from aggregated
)

select * from final
