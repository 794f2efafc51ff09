-- Invoices as known on each cutoff date (int_cutoff_dates): issued on or before it. A void or a
-- write-off only counts once its update (updated_at) happened on or before the cutoff, so the
-- state "as of" a past date is what the firm knew then. The source status itself is not kept here
-- (core.fct_invoices reads it from staging): a status change that does not void or write off an
-- invoice by a cutoff must not change that cutoff's rows (see int_cutoff_input_fingerprints).
-- Incremental by cutoff as the rule models: a night computes only the cutoffs whose input fingerprint
-- is new (tonight's as-of date, a new month end, a month end whose invoices or payments changed) and
-- the pre-hook deletes superseded and out-of-window cutoffs (macros/fingerprint_incremental.sql).
with cutoffs as (
    {{ keys_to_build_recorded('int_cutoff_input_fingerprints', 'cutoff_date') }}
),

invoices as (
    select * from {{ ref('stg_invoices') }}
),

final as (
    select
        c.cutoff_date,
        i.invoice_id,
        i.client_id,
        i.contract_id,
        i.issue_date,
        i.due_date,
        i.amount,
        i.status = 'void'
            and {{ invoice_update_known_by('i.updated_at', 'i.issue_date', 'c.cutoff_date') }} as is_void,
        i.status = 'written_off'
            and {{ invoice_update_known_by('i.updated_at', 'i.issue_date', 'c.cutoff_date') }} as is_written_off,
        c.input_fingerprint
    from cutoffs as c
    inner join invoices as i on i.issue_date <= c.cutoff_date
)

select * from final
