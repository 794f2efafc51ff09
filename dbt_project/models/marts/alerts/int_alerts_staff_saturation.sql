{{ config(schema='intermediate') }}
-- TODO(workload mart): once mart_workload_saturation (is_saturated) is merged, select its saturated
-- staff here instead of this stand-in rule, so saturation is defined once.
-- Stand-in: active staff with a monthly_capacity; load = distinct clients with a non-cancelled task
-- due in the as-of month; saturated when load / capacity >= var alert_saturation_ratio (1.0).
with load as (
    select assignee_id as staff_id, count(distinct client_id) as client_load
    from {{ ref('fct_tasks') }}
    where status_as_of <> 'cancelled'
      and due_period = strftime({{ as_of() }}, '%Y-%m')
    group by assignee_id
),

final as (
    select
        s.staff_id,
        s.staff_name,
        s.monthly_capacity,
        l.client_load,
        l.client_load / s.monthly_capacity as load_ratio
    from {{ ref('dim_staff') }} as s
    inner join load as l on l.staff_id = s.staff_id
    where s.is_active
      and s.monthly_capacity > 0
      and l.client_load / s.monthly_capacity >= {{ var('alert_saturation_ratio', 1.0) }}
)

select * from final
