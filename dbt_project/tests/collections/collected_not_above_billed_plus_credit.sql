-- Money collected can never exceed what was billed plus what clients hold as credit.
with collected as (
    select sum(collected_amount) as collected, sum(billed_amount) as billed
    from {{ ref('mart_collections_by_period') }}
    where period_grain = 'month'
),

credit as (
    select sum(credit_amount) as credit from {{ ref('mart_collections_by_channel') }}
)

select *
from collected cross join credit
where collected > billed + coalesce(credit, 0)
