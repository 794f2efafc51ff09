-- Saturated staff are exactly the is_saturated rows of int_workload_saturation (defined once there,
-- published by mart_workload_saturation) for the as-of month: load is the bookkeeping client-periods
-- due that month, capacity as that model defines.
with final as (
    select
        s.staff_id,
        s.staff_name,
        -- capacity may be a team-median estimate: show whole numbers without decimals
        case when s.capacity = round(s.capacity) then cast(cast(s.capacity as bigint) as varchar)
             else printf('%.1f', s.capacity) end as monthly_capacity,
        s.load_client_periods as client_load,
        s.load_client_periods / nullif(s.capacity, 0) as load_ratio
    from {{ ref('int_workload_saturation') }} as s
    where s.is_saturated
      and s.month_start = date_trunc('month', {{ as_of() }})::date
)

select * from final
