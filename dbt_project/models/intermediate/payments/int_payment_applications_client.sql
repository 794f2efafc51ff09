-- Step 2 of the application rule, per cutoff date and client: the money not tied to an invoice
-- (client-level and payer-name payments, plus the excess of invoice payments) settles the invoices
-- still open after step 1, oldest due date first (tie: issue_date, invoice_id). Money is queued by
-- (paid_date, payment_id). Both queues become cumulative intervals; an application is the overlap of a money
-- interval with an invoice interval, so nothing is applied twice and leftovers stay as credit.
-- Void and written-off invoices take no client-level money.
with cutoffs as (
    -- incremental: only the cutoffs that are new or whose inputs changed
    -- (macros/fingerprint_incremental.sql)
    {{ keys_to_build_recorded('int_cutoff_input_fingerprints', 'cutoff_date') }}
),

identified as (
    select p.*
    from {{ ref('int_payments_identified_at_cutoffs') }} as p
    inner join cutoffs as c on c.cutoff_date = p.cutoff_date
),

invoices as (
    select i.*
    from {{ ref('int_invoices_at_cutoffs') }} as i
    inner join cutoffs as c on c.cutoff_date = i.cutoff_date
),

money as (
    select
        cutoff_date,
        payment_id,
        resolved_client_id as client_id,
        paid_date,
        amount as pool_amount,
        identification_method as source_method
    from identified
    where identification_method in ('client', 'payer_name')
    union all
    select
        cutoff_date,
        payment_id,
        client_id,
        paid_date,
        excess_amount as pool_amount,
        'invoice' as source_method
    -- step 1's table is read here and in direct_by_invoice directly, not through one shared CTE: DuckDB
    -- materializes a CTE read twice (every column of every cutoff's rows) before either reader's filter
    from {{ ref('int_payment_applications_direct') }} as d
    where d.excess_amount > 0 and d.cutoff_date in (select c.cutoff_date from cutoffs as c)
),

money_queue as (
    select
        *,
        sum(pool_amount) over (
            partition by cutoff_date, client_id order by paid_date, payment_id
            rows between unbounded preceding and current row
        ) as money_end
    from money
),

direct_by_invoice as (
    select d.cutoff_date, d.invoice_id, sum(d.applied_amount) as direct_applied
    from {{ ref('int_payment_applications_direct') }} as d
    where d.cutoff_date in (select c.cutoff_date from cutoffs as c)
    group by d.cutoff_date, d.invoice_id
),

open_invoices as (
    select
        i.cutoff_date,
        i.invoice_id,
        i.client_id,
        i.due_date,
        i.issue_date,
        i.amount - coalesce(d.direct_applied, 0) as remaining
    from invoices as i
    left join direct_by_invoice as d on d.cutoff_date = i.cutoff_date and d.invoice_id = i.invoice_id
    where not i.is_void
      and not i.is_written_off
      and i.amount - coalesce(d.direct_applied, 0) > 0
),

invoice_queue as (
    select
        *,
        sum(remaining) over (
            partition by cutoff_date, client_id order by due_date, issue_date, invoice_id
            rows between unbounded preceding and current row
        ) as invoice_end
    from open_invoices
),

final as (
    select
        m.cutoff_date,
        m.payment_id,
        q.invoice_id,
        m.client_id,
        m.paid_date,
        case m.source_method
            when 'client' then 'client_oldest_due'
            when 'payer_name' then 'payer_name_oldest_due'
            else 'invoice_overpayment_credit'
        end as application_method,
        cast(
            least(m.money_end, q.invoice_end)
            - greatest(m.money_end - m.pool_amount, q.invoice_end - q.remaining)
            as decimal(18, 2)
        ) as applied_amount,
        c.input_fingerprint
    from money_queue as m
    inner join invoice_queue as q
        on q.cutoff_date = m.cutoff_date
        and q.client_id = m.client_id
        and m.money_end - m.pool_amount < q.invoice_end
        and q.invoice_end - q.remaining < m.money_end
    inner join cutoffs as c on c.cutoff_date = m.cutoff_date
)

select * from final
