-- 回款时效: how fast each industry pays, over invoices fully paid in the trailing 12 months
-- (fully_paid_date in (as_of − 12 months, as_of]), and how many days slower than tech it is.
with paid as (
    select
        c.industry,
        c.industry_cn,
        i.days_to_pay,
        greatest(datediff('day', i.due_date, i.fully_paid_date), 0) as days_late,
        i.paid_on_time
    from {{ ref('fct_invoices') }} as i
    inner join {{ ref('dim_clients') }} as c on c.client_id = i.client_id
    where i.is_fully_paid
      and i.fully_paid_date > {{ as_of() }} - interval 12 month
      and i.fully_paid_date <= {{ as_of() }}
),

by_industry as (
    select
        industry,
        industry_cn,
        count(*) as paid_invoices,
        avg(days_to_pay) as avg_days_to_pay,
        median(days_to_pay) as median_days_to_pay,
        avg(days_late) as avg_days_late,
        avg(case when paid_on_time then 1.0 else 0.0 end) as on_time_rate
    from paid
    group by all
),

final as (
    select
        b.industry,
        b.industry_cn,
        cast(b.paid_invoices as integer) as paid_invoices,
        cast(round(b.avg_days_to_pay, 1) as double) as avg_days_to_pay,
        cast(b.median_days_to_pay as double) as median_days_to_pay,
        cast(round(b.avg_days_late, 1) as double) as avg_days_late,
        cast(b.on_time_rate as double) as on_time_rate,
        cast(round(b.median_days_to_pay - t.median_days_to_pay, 1) as double) as days_slower_than_tech,
        cast(rank() over (order by b.avg_days_to_pay desc) as integer) as slowest_rank
    from by_industry as b
    left join by_industry as t on t.industry = 'tech'
)

select * from final
