-- 应收账龄（账单）: every open receivable as of the date in its aging bucket.
with buckets (bucket, bucket_cn, bucket_sort) as (
    values ('current', '未到期', 1), ('d1_30', '1-30天', 2), ('d31_60', '31-60天', 3),
           ('d61_90', '61-90天', 4), ('d91_180', '91-180天', 5), ('over_180', '180天以上', 6)
),

final as (
    select
        a.invoice_id,
        a.client_id,
        c.client_name,
        c.industry,
        c.industry_cn,
        c.accountant_name,
        c.team,
        a.issue_date,
        a.due_date,
        cast(a.amount as decimal(18, 2)) as amount,
        cast(a.open_receivable_amount as decimal(18, 2)) as outstanding_amount,
        cast(a.days_past_due as integer) as days_past_due,
        a.bucket,
        b.bucket_cn,
        cast(b.bucket_sort as integer) as bucket_sort
    from {{ ref('int_ar_buckets') }} as a
    inner join buckets as b on b.bucket = a.bucket
    inner join {{ ref('dim_clients') }} as c on c.client_id = a.client_id
)

select * from final
