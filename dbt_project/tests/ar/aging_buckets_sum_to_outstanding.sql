-- Buckets add up: invoice mart total = client mart total = core open receivables = provision total row.
with totals as (
    select
        (select coalesce(sum(outstanding_amount), 0) from {{ ref('mart_ar_aging_invoices') }}) as invoices,
        (select coalesce(sum(total_outstanding), 0) from {{ ref('mart_ar_aging_clients') }}) as clients,
        (select coalesce(sum(current_amount + d1_30_amount + d31_60_amount + d61_90_amount + d91_180_amount
                             + over_180_amount), 0) from {{ ref('mart_ar_aging_clients') }}) as client_buckets,
        (select coalesce(sum(open_receivable_amount), 0) from {{ ref('fct_invoices') }}) as core,
        (select outstanding_amount from {{ ref('mart_ar_provision') }} where bucket = 'total') as provision_total
)

select * from totals
where invoices <> core or clients <> core or client_buckets <> core or provision_total <> core
