-- Every cockpit actual equals the number its owning mart publishes for that month.
with sources as (
    select period, 'collected_amount' as metric, sum(collected_amount)::double as expected
    from {{ ref('mart_collections_by_period') }} where period_grain = 'month' group by period
    union all
    select period, 'collection_rate', sum(billed_collected_amount) / nullif(sum(billed_amount), 0)
    from {{ ref('mart_collections_by_period') }} where period_grain = 'month' group by period
    union all
    select period, 'renewal_rate', renewal_rate from {{ ref('mart_renewal_rate_firm_monthly') }}
    union all
    select period, 'clients_per_accountant', clients_per_accountant from {{ ref('mart_workload_firm_monthly') }}
)

select c.period, c.metric, c.actual, s.expected
from {{ ref('mart_kpi_cockpit') }} as c
inner join sources as s on s.period = c.period and s.metric = c.metric
where not (c.actual is not distinct from s.expected or abs(c.actual - s.expected) < 1e-9)
