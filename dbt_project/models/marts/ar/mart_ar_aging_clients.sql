-- 应收账龄（客户）: each client's open receivables split by aging bucket.
with by_client as (
    select
        client_id,
        sum(open_receivable_amount) filter (where bucket = 'current') as current_amount,
        sum(open_receivable_amount) filter (where bucket = 'd1_30') as d1_30_amount,
        sum(open_receivable_amount) filter (where bucket = 'd31_60') as d31_60_amount,
        sum(open_receivable_amount) filter (where bucket = 'd61_90') as d61_90_amount,
        sum(open_receivable_amount) filter (where bucket = 'd91_180') as d91_180_amount,
        sum(open_receivable_amount) filter (where bucket = 'over_180') as over_180_amount,
        sum(open_receivable_amount) as total_outstanding,
        max(days_past_due) as max_days_past_due,
        count(*) as open_invoice_count
    from {{ ref('int_ar_buckets') }}
    group by client_id
),

final as (
    select
        b.client_id,
        c.client_name,
        c.industry_cn,
        c.accountant_name,
        c.team,
        cast(coalesce(b.current_amount, 0) as decimal(18, 2)) as current_amount,
        cast(coalesce(b.d1_30_amount, 0) as decimal(18, 2)) as d1_30_amount,
        cast(coalesce(b.d31_60_amount, 0) as decimal(18, 2)) as d31_60_amount,
        cast(coalesce(b.d61_90_amount, 0) as decimal(18, 2)) as d61_90_amount,
        cast(coalesce(b.d91_180_amount, 0) as decimal(18, 2)) as d91_180_amount,
        cast(coalesce(b.over_180_amount, 0) as decimal(18, 2)) as over_180_amount,
        cast(b.total_outstanding as decimal(18, 2)) as total_outstanding,
        cast(b.max_days_past_due as integer) as max_days_past_due,
        cast(b.open_invoice_count as integer) as open_invoice_count
    from by_client as b
    inner join {{ ref('dim_clients') }} as c on c.client_id = b.client_id
)

select * from final
