-- 收款分析: billed, collected, collection rate, days to pay and on-time rate per month and quarter
-- × taxpayer type × industry × service type. Numerators and denominators are published next to each
-- rate so any rollup (firm total, one dimension) recomputes the rate instead of averaging rates; the
-- rates' formulas are the collection_metrics macros (macros/collection_metrics.sql).
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
        sum(days_to_pay_total) as days_to_pay_total,
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
        {{ collection_measure_columns(with_days_to_pay_total=true) }}
    from aggregated
)

select * from final
