-- 坏账准备: outstanding per aging bucket × the configured provision rate, plus the total.
{%- set rates = var('ar_provision_rates') %}
with buckets (bucket, bucket_cn, bucket_sort, provision_rate) as (
    values ('current', '未到期', 1, {{ rates['current'] }}), ('d1_30', '1-30天', 2, {{ rates['d1_30'] }}),
           ('d31_60', '31-60天', 3, {{ rates['d31_60'] }}), ('d61_90', '61-90天', 4, {{ rates['d61_90'] }}),
           ('d91_180', '91-180天', 5, {{ rates['d91_180'] }}), ('over_180', '180天以上', 6, {{ rates['over_180'] }})
),

by_bucket as (
    select
        b.bucket, b.bucket_cn, b.bucket_sort, b.provision_rate,
        coalesce(sum(a.open_receivable_amount), 0) as outstanding_amount
    from buckets as b
    left join {{ ref('int_ar_buckets') }} as a on a.bucket = b.bucket
    group by all
),

with_total as (
    select *, outstanding_amount * provision_rate as provision_amount from by_bucket
    union all
    select 'total', '合计', 7, null, sum(outstanding_amount), sum(outstanding_amount * provision_rate)
    from by_bucket
),

final as (
    select
        bucket,
        bucket_cn,
        cast(bucket_sort as integer) as bucket_sort,
        cast(outstanding_amount as decimal(18, 2)) as outstanding_amount,
        cast(provision_rate as double) as provision_rate,
        cast(round(provision_amount, 2) as decimal(18, 2)) as provision_amount
    from with_total
)

select * from final
