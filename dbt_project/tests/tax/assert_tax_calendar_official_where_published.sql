-- Months with an official SAT date must use it; others must use the rule seed.
select c.period
from {{ ref('mart_tax_calendar') }} as c
left join {{ ref('cn_tax_deadlines') }} as o on o.year = c.year and o.month = c.month
left join {{ ref('cn_tax_deadline_rule') }} as r on r.year = c.year and r.month = c.month
where (o.deadline is not null and (c.deadline <> o.deadline or c.deadline_source <> 'official'))
   or (o.deadline is null and (c.deadline is distinct from r.deadline or c.deadline_source <> 'rule'))
