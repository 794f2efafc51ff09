-- Staff with their state as of the run date (hired and not yet left).
with staff as (
    select * from {{ ref('stg_staff') }}
),

final as (
    select
        staff_id,
        staff_name,
        role,
        {{ enum_label('role', 'role') }} as role_cn,
        team,
        hire_date,
        leave_date,
        monthly_capacity,
        (hire_date is null or hire_date <= {{ as_of() }})
            and (leave_date is null or leave_date > {{ as_of() }}) as is_active,
        case
            when hire_date <= {{ as_of() }}
                then datediff('month', hire_date, least(coalesce(leave_date, {{ as_of() }}), {{ as_of() }}))
        end as tenure_months
    from staff
)

select * from final
