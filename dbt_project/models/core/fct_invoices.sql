-- Invoices issued on or before the as-of date with what payments settled by then. Void invoices are
-- kept (flagged) but owe nothing; outstanding comes from the applications, not the source status.
with invoices as (
    select i.* exclude (cutoff_date, input_fingerprint), s.status as source_status  -- noqa: RF02
    from {{ ref('int_invoices_at_cutoffs') }} as i
    inner join {{ ref('stg_invoices') }} as s on s.invoice_id = i.invoice_id
    where i.cutoff_date = {{ as_of() }}
),

applications as (
    select
        invoice_id,
        sum(applied_amount) as applied_amount,
        max(applied_date) as last_applied_date,
        min(applied_date) as first_applied_date,
        count(*) as application_count
    from {{ ref('fct_payment_applications') }}
    group by invoice_id
),

settled as (
    select
        i.*,
        cast(coalesce(a.applied_amount, 0) as decimal(18, 2)) as applied_amount,
        cast(case when i.is_void then 0 else i.amount - coalesce(a.applied_amount, 0) end as decimal(18, 2))
            as outstanding_amount,
        a.first_applied_date,
        a.last_applied_date,
        coalesce(a.application_count, 0) as application_count
    from invoices as i
    left join applications as a on a.invoice_id = i.invoice_id
),

final as (
    select
        invoice_id,
        client_id,
        contract_id,
        issue_date,
        due_date,
        strftime(issue_date, '%Y-%m') as issue_period,
        strftime(due_date, '%Y-%m') as due_period,
        amount,
        source_status,
        {{ enum_label('invoice_status', 'source_status') }} as source_status_cn,
        is_void,
        is_written_off,
        applied_amount,
        outstanding_amount,
        cast(case when is_void or is_written_off then 0 else outstanding_amount end as decimal(18, 2))
            as open_receivable_amount,
        application_count,
        first_applied_date,
        not is_void and outstanding_amount = 0 as is_fully_paid,
        case when not is_void and outstanding_amount = 0 then last_applied_date end as fully_paid_date,
        case
            when not is_void and outstanding_amount > 0 and {{ as_of() }} > due_date
                then datediff('day', due_date, {{ as_of() }})
            else 0
        end as days_past_due,
        case
            when not is_void and outstanding_amount = 0 then datediff('day', issue_date, last_applied_date)
        end as days_to_pay,
        case
            when not is_void and outstanding_amount = 0 then last_applied_date <= due_date
        end as paid_on_time,
        case
            when is_void then 'void'
            when outstanding_amount = 0 then 'settled'
            else {{ aging_bucket("datediff('day', due_date, " ~ as_of() ~ ")") }}
        end as aging_bucket
    from settled
)

select * from final
