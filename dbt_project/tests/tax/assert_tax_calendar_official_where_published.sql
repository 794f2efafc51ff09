-- Months with an official SAT date must use it; months the rule seed covers must use the rule; months
-- outside both seeds (an older history, e.g. 2012) must say 'weekday_rule' and fall on the first
-- Monday-Friday on or after the 15th (no holiday calendar there), computed here from the date alone.
select c.period
from {{ ref('mart_tax_calendar') }} as c
left join {{ ref('cn_tax_deadlines') }} as o on o.year = c.year and o.month = c.month
left join {{ ref('cn_tax_deadline_rule') }} as r on r.year = c.year and r.month = c.month
where (o.deadline is not null and (c.deadline <> o.deadline or c.deadline_source <> 'official'))
   or (
       o.deadline is null and r.deadline is not null
       and (c.deadline <> r.deadline or c.deadline_source <> 'rule')
   )
   or (
       o.deadline is null and r.deadline is null
       and (
           c.deadline_source <> 'weekday_rule'
           or c.deadline <> make_date(c.year, c.month, 15)
           + case extract(isodow from make_date(c.year, c.month, 15)) when 6 then 2 when 7 then 1 else 0 end
       )
   )
