-- 公司月度收款: one row per month (no gaps) for the whole firm — billed, collected, collection rate,
-- on-time rate, the comparable previous-month and last-year windows, and the partial-period flag.
-- Selects the firm rows of int_collections_monthly, where the formulas live.
with firm as (
    select * from {{ ref('int_collections_monthly') }}
    where scope = 'firm'
),

final as (
    -- the column list is fixed by the enforced contract (AM04 does not know it)
    select * exclude (scope, team) from firm
)

select * from final  -- noqa: AM04
