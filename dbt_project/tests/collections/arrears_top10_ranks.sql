-- At most arrears_top_n rows, ranked 1..n without gaps, every client actually overdue.
select rank, client_id
from {{ ref('mart_arrears_top10') }}
where rank > {{ var('arrears_top_n') }}
   or overdue_amount <= 0
   or rank > (select count(*) from {{ ref('mart_arrears_top10') }})
