-- The deadline of each filing period (the month after the service month) with the working days left
-- until it, counted once per deadline (a few dozen), not once per filing. Read by int_tax_filing_status
-- and by its period fingerprints (int_tax_filing_period_fingerprints).
with workdays as (
    select date_day from {{ ref('dim_date') }} where is_workday
),

final as (
    select
        d.period as filing_period,
        d.deadline,
        d.deadline_source,
        case
            when d.deadline < {{ as_of() }} then 0
            else (
                select count(*) from workdays as w
                where w.date_day between {{ as_of() }} and d.deadline
            )
        end::integer as working_days_left
    from (
        select distinct
            period, month_tax_deadline as deadline, month_tax_deadline_source as deadline_source
        from {{ ref('dim_date') }}
    ) as d
)

select * from final
