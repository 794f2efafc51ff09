-- 续约概率: the night's renewal scores with labels, as int_renewal_scores computes them (the renewal
-- list and the alerts read the same model). The contract in _forecast.yml fixes the columns.
select * from {{ ref('int_renewal_scores') }}
