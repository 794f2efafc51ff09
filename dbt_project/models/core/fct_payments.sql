-- Payments received on or before the as-of date: how each was identified and where its money went.
with payments as (
    select * exclude (cutoff_date) from {{ ref('int_payments_identified_at_cutoffs') }}
    where cutoff_date = {{ as_of() }}
),

applied as (
    select payment_id, sum(applied_amount) as applied_amount, count(*) as invoices_settled
    from {{ ref('fct_payment_applications') }}
    group by payment_id
),

final as (
    select
        p.payment_id,
        p.paid_date,
        strftime(p.paid_date, '%Y-%m') as paid_period,
        p.amount,
        p.channel,
        {{ enum_label('channel', 'p.channel') }} as channel_cn,
        p.payer_name,
        p.reference,
        p.client_id as source_client_id,
        p.invoice_id as source_invoice_id,
        p.invoice_reference,
        p.resolved_client_id,
        p.identification_method,
        case p.identification_method
            when 'invoice' then '按账单'
            when 'client' then '按客户'
            when 'payer_name' then '按付款方名称'
            else '未识别'
        end as identification_method_cn,
        p.identification_method <> 'unidentified' as is_identified,
        cast(coalesce(a.applied_amount, 0) as decimal(18, 2)) as applied_amount,
        cast(
            case when p.identification_method <> 'unidentified' then p.amount - coalesce(a.applied_amount, 0) else 0 end
            as decimal(18, 2)
        ) as credit_amount,
        cast(case when p.identification_method = 'unidentified' then p.amount else 0 end as decimal(18, 2))
            as unidentified_amount,
        coalesce(a.invoices_settled, 0) as invoices_settled
    from payments as p
    left join applied as a on a.payment_id = p.payment_id
)

select * from final
