-- Every scope of the monthly renewal rate must add up to the firm row of its month (each ended
-- contract has exactly one service type and one industry), renewed never exceeds ended, and the
-- firm mart carries the same firm figures.
with rates as (
    select * from {{ ref('mart_renewal_rate_monthly') }}
),

by_scope as (
    select
        period,
        scope,
        sum(contracts_ended) as ended,
        sum(contracts_renewed) as renewed,
        sum(contracts_pending) as pending
    from rates
    group by period, scope
),

firm as (
    select * from by_scope where scope = 'firm'
),

scope_mismatch as (
    select s.period, s.scope, 'scope total differs from firm row' as problem
    from by_scope as s
    inner join firm as f on f.period = s.period
    where s.ended <> f.ended or s.renewed <> f.renewed or s.pending <> f.pending
),

bad_rows as (
    select period, scope, 'renewed > ended or rate out of [0,1]' as problem
    from rates
    where contracts_renewed > contracts_ended
       or renewal_rate < 0 or renewal_rate > 1
       or (contracts_ended = 0) <> (renewal_rate is null)
),

firm_mart_mismatch as (
    select m.period, 'firm' as scope, 'firm mart differs from firm rows' as problem
    from {{ ref('mart_renewal_rate_firm_monthly') }} as m
    left join firm as f on f.period = m.period
    where m.contracts_ended <> coalesce(f.ended, 0)
       or m.contracts_renewed <> coalesce(f.renewed, 0)
)

select * from scope_mismatch
union all
select * from bad_rows
union all
select * from firm_mart_mismatch
