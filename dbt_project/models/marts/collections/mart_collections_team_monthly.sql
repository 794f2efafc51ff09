-- 部门月度收款: mart_collections_firm_monthly per team (the team of the client's responsible
-- accountant as of the run date; 未分配 for clients without one). Same columns plus `team`.
with teams as (
    select * from {{ ref('int_collections_monthly') }}
    where scope = 'team'
),

final as (
    -- the column list is fixed by the enforced contract (AM04 does not know it)
    select * exclude (scope) from teams
)

select * from final  -- noqa: AM04
