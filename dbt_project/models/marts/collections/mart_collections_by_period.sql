-- 收款分析: billed, collected, collection rate, days to pay and on-time rate per month and quarter
-- × taxpayer type × industry × service type. Numerators and denominators are published next to each
-- rate so any rollup (firm total, one dimension) recomputes the rate instead of averaging rates.
with events as (
    select
        *,
        strftime(event_date, '%Y-%m') as month_key,
        strftime(event_date, '%Y') || '-Q' || cast(quarter(event_date) as varchar) as quarter_key,
        date_trunc('month', event_date)::date as month_start,
        date_trunc('quarter', event_date)::date as quarter_start
    from {{ ref('int_collection_events') }}
    where event_date <= {{ as_of() }}
),

by_grain as (
    select 'month' as period_grain, month_key as period, month_start as period_start, * exclude (
        month_key, quarter_key, month_start, quarter_start)
    from events
    union all
    select 'quarter', quarter_key, quarter_start, * exclude (month_key, quarter_key, month_start, quarter_start)
    from events
),

aggregated as (
    select
        period_grain, period, period_start,
        taxpayer_type, taxpayer_type_cn, industry, industry_cn, service_type, service_type_cn,
        sum(billed_amount) as billed_amount,
        sum(billed_count) as invoices_billed,
        sum(billed_collected_amount) as billed_collected_amount,
        sum(collected_amount) as collected_amount,
        sum(paid_count) as invoices_paid,
        sum(days_to_pay) as days_to_pay_total,
        sum(due_count) as invoices_due,
        sum(due_paid_on_time_count) as invoices_due_paid_on_time
    from by_grain
    group by all
),

final as (
    select
        period_grain || '|' || period || '|' || taxpayer_type || '|' || industry || '|' || service_type
            as row_key,
        period_grain,
        period,
        period_start,
        cast(period_start + case when period_grain = 'month' then interval 1 month else interval 3 month end
            - interval 1 day as date) > {{ as_of() }} as is_partial_period,
        taxpayer_type,
        taxpayer_type_cn,
        industry,
        industry_cn,
        service_type,
        service_type_cn,
        cast(billed_amount as decimal(18, 2)) as billed_amount,
        cast(invoices_billed as integer) as invoices_billed,
        cast(billed_collected_amount as decimal(18, 2)) as billed_collected_amount,
        cast(billed_collected_amount / nullif(billed_amount, 0) as double) as collection_rate,
        cast(collected_amount as decimal(18, 2)) as collected_amount,
        cast(invoices_paid as integer) as invoices_paid,
        cast(days_to_pay_total as bigint) as days_to_pay_total,
        cast(days_to_pay_total / nullif(invoices_paid, 0) as double) as avg_days_to_pay,
        cast(invoices_due as integer) as invoices_due,
        cast(invoices_due_paid_on_time as integer) as invoices_due_paid_on_time,
        cast(invoices_due_paid_on_time / nullif(invoices_due, 0) as double) as on_time_rate
    from aggregated
)

select * from final
