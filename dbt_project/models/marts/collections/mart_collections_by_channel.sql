-- 收款渠道: money received per month × channel, split into applied to invoices, held as client
-- credit, and unidentified receipts (no client found by invoice, client id or payer name).
with payments as (
    select * from {{ ref('fct_payments') }}
    where paid_date <= {{ as_of() }}
),

aggregated as (
    select
        paid_period as period,
        date_trunc('month', paid_date)::date as period_start,
        channel,
        channel_cn,
        count(*) as payment_count,
        sum(amount) as received_amount,
        sum(applied_amount) as applied_amount,
        sum(credit_amount) as credit_amount,
        count(*) filter (where not is_identified) as unidentified_count,
        sum(unidentified_amount) as unidentified_amount
    from payments
    group by all
),

final as (
    select
        period || '|' || channel as row_key,
        period,
        period_start,
        channel,
        channel_cn,
        cast(payment_count as integer) as payment_count,
        cast(received_amount as decimal(18, 2)) as received_amount,
        cast(applied_amount as decimal(18, 2)) as applied_amount,
        cast(credit_amount as decimal(18, 2)) as credit_amount,
        cast(unidentified_count as integer) as unidentified_count,
        cast(unidentified_amount as decimal(18, 2)) as unidentified_amount,
        cast(received_amount / sum(received_amount) over (partition by period) as double) as share_of_month
    from aggregated
)

select * from final
