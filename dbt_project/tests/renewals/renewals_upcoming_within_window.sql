-- Listed contracts end inside the renewal window, days_to_end is end_date - as_of_date, and no
-- listed contract has a successor signed by the as-of date.
select u.contract_id
from {{ ref('mart_renewals_upcoming') }} as u
inner join {{ ref('dim_contracts') }} as c on c.contract_id = u.contract_id
where u.days_to_end <> datediff('day', {{ as_of() }}, u.end_date)
   or u.days_to_end < 0
   or u.days_to_end > {{ var('renewal_window_days') }}
   or c.renewed_by_contract_id is not null
   or c.state_as_of <> 'active'
