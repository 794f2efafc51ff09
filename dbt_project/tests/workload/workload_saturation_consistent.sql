-- The saturation flag follows its documented rule, and the firm mart's saturated count matches.
with s as (
    select * from {{ ref('mart_workload_saturation') }}
),

rule_broken as (
    select period, staff_id, 'flag does not follow the rule' as problem
    from s
    where is_over_capacity <> coalesce(load_client_periods > capacity, false)
       or is_over_team_median <> coalesce(load_client_periods > team_median_load * saturation_multiplier, false)
       or is_saturated <> (is_over_capacity or is_over_team_median)
       or capacity is distinct from coalesce(monthly_capacity, team_median_load * saturation_multiplier)
),

firm_mismatch as (
    select f.period, null as staff_id, 'firm saturated count differs' as problem
    from {{ ref('mart_workload_firm_monthly') }} as f
    left join (select period, count(*) filter (where is_saturated) as n from s group by period) as c
        on c.period = f.period
    where f.saturated_accountants <> coalesce(c.n, 0)
)

select * from rule_broken
union all
select * from firm_mismatch
