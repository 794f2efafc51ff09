-- 公司月度人效: per month, clients with a contract in force and accountants employed on the month's
-- reference day (month end, or the as-of date for the current month), clients per accountant, and
-- how many accountants were saturated (selected from mart_workload_saturation).
with contracts as (
    -- a terminated contract's termination date is not in core: it counts nowhere (see glossary)
    select * from {{ ref('dim_contracts') }}
    where state_as_of <> 'terminated'
),

accountants as (
    select * from {{ ref('dim_staff') }}
    where role = 'accountant'
),

months as (
    select
        period,
        min(month_start) as month_start,
        least(max(month_end), {{ as_of() }}) as reference_date
    from {{ ref('dim_date') }}
    where date_day <= {{ as_of() }}
      and date_day >= (select min(start_date) from contracts)
    group by period
),

clients_in_force as (
    select m.period, count(distinct k.client_id) as active_clients
    from months as m
    inner join contracts as k
        on k.start_date <= m.reference_date
       and k.end_date >= m.reference_date
       and k.effective_signed_date <= m.reference_date
    group by m.period
),

headcount as (
    select m.period, count(*) as accountants
    from months as m
    inner join accountants as a
        on (a.hire_date is null or a.hire_date <= m.reference_date)
       and (a.leave_date is null or a.leave_date > m.reference_date)
    group by m.period
),

saturation as (
    select
        period,
        count(*) filter (where is_saturated) as saturated_accountants,
        sum(load_client_periods) as bookkeeping_client_periods
    from {{ ref('mart_workload_saturation') }}
    group by period
),

final as (
    select
        m.period,
        m.month_start,
        m.reference_date,
        m.period = strftime({{ as_of() }}, '%Y-%m') as is_current_month,
        cast(coalesce(c.active_clients, 0) as integer) as active_clients,
        cast(coalesce(h.accountants, 0) as integer) as accountants,
        cast(case when h.accountants > 0 then coalesce(c.active_clients, 0) / h.accountants end as double)
            as clients_per_accountant,
        cast(coalesce(s.bookkeeping_client_periods, 0) as integer) as bookkeeping_client_periods,
        cast(coalesce(s.saturated_accountants, 0) as integer) as saturated_accountants
    from months as m
    left join clients_in_force as c on c.period = m.period
    left join headcount as h on h.period = m.period
    left join saturation as s on s.period = m.period
)

select * from final
