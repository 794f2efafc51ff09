-- 人员进度 = 阻塞明细: blocked_count / blocking_count equal the drill-through rows, per person.
with detail as (
    select * from {{ ref('mart_staff_blocking_detail') }}
),

blocked as (
    select blocked_staff_id as staff_id, count(*) as n from detail group by blocked_staff_id
),

blocking as (
    select blocking_staff_id as staff_id, count(*) as n
    from detail
    where not is_self_blocked
    group by blocking_staff_id
),

people as (
    select staff_id from blocked
    union
    select staff_id from blocking
    union
    select staff_id from {{ ref('mart_staff_progress') }}
)

select
    p.staff_id,
    sp.blocked_count,
    coalesce(bd.n, 0) as blocked_rows,
    sp.blocking_count,
    coalesce(bg.n, 0) as blocking_rows
from people as p
left join {{ ref('mart_staff_progress') }} as sp on sp.staff_id = p.staff_id
left join blocked as bd on bd.staff_id = p.staff_id
left join blocking as bg on bg.staff_id = p.staff_id
where coalesce(sp.blocked_count, -1) <> coalesce(bd.n, 0)
   or coalesce(sp.blocking_count, -1) <> coalesce(bg.n, 0)
