-- Invoices known on the as-of date (issued on or before it). Void comes from the source status;
-- a write-off only counts once its update (updated_at) happened on or before the as-of date.
with invoices as (
    select * from {{ ref('stg_invoices') }}
),

final as (
    select
        invoice_id,
        client_id,
        contract_id,
        issue_date,
        due_date,
        amount,
        status as source_status,
        status = 'void' as is_void,
        status = 'written_off' and cast(updated_at as date) <= {{ as_of() }} as is_written_off
    from invoices
    where issue_date <= {{ as_of() }}
)

select * from final
