-- low <= expected <= high, and the firm equals the sum over industries and over service types.
with f as (select * from {{ ref('mart_collection_forecast') }}),
sums as (
    select horizon, scope_type, sum(expected_amount) as total from f group by all
)
select f.forecast_key
from f
where not (f.low_amount <= f.expected_amount + 0.01 and f.expected_amount <= f.high_amount + 0.01)
union all
select s.horizon || '|' || s.scope_type
from sums as s
inner join sums as firm on firm.horizon = s.horizon and firm.scope_type = 'firm'
where s.scope_type <> 'firm' and abs(s.total - firm.total) > 0.05 * (select count(*) from f) + 1
