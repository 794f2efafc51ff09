-- 续约概率: the night's renewal scores with labels, as int_renewal_scores computes them (the renewal
-- list and the alerts read the same model).
with final as (
    -- the column list is fixed by the enforced contract (AM04 does not know it)
    select * from {{ ref('int_renewal_scores') }}
)

select * from final  -- noqa: AM04
