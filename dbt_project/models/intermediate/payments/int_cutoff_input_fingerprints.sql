-- One fingerprint per cutoff date of everything the payment application rule reads for it: the invoices
-- as known on the cutoff (the rows of int_invoices_at_cutoffs, summed from stg_invoices), the payments received by then with their client
-- master lookups, and the SQL of the rule's models. Two runs with the same fingerprint for a cutoff
-- compute the same rows for it, so the incremental *_at_cutoffs models rebuild only the cutoffs whose
-- fingerprint changed (macros/fingerprint_incremental.sql). Row hashes are summed (order-independent) with
-- row counts; a changed row changes the sum unless two 64-bit hashes collide.
{%- set rule_code = [] %}
{%- if execute %}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') %}
        {%- if node.resource_type == 'model' and node.original_file_path.startswith('models/intermediate/payments/') %}
            {%- do rule_code.append(node.unique_id ~ '\n' ~ node.raw_code) %}
        {%- endif %}
    {%- endfor %}
{%- endif %}
with cutoffs as (
    select cutoff_date from {{ ref('int_cutoff_dates') }}
),

-- The invoices as known on a cutoff (the rows int_invoices_at_cutoffs builds for it) are summed from
-- stg_invoices directly, as that model is itself incremental on these fingerprints: an invoice counts
-- from its issue date with its unvoided hash, and from the day its void / write-off is known (never
-- before its issue date) with its final state's hash instead; both are summed per day, then per cutoff.
-- The sums equal those over the model's rows at every cutoff.
invoice_hashes as (
    select
        issue_date,
        greatest(coalesce(cast(updated_at as date), issue_date), issue_date) as known_date,
        hash(invoice_id, client_id, contract_id, issue_date, due_date, amount, false, false)::hugeint
            as open_hash,
        hash(invoice_id, client_id, contract_id, issue_date, due_date, amount, status = 'void',
            status = 'written_off')::hugeint as known_hash
    from {{ ref('stg_invoices') }}
),

invoices_by_issue_day as (
    select issue_date as day, count(*) as invoice_rows, sum(open_hash) as invoice_hash
    from invoice_hashes
    group by issue_date
),

-- zero for an invoice that is neither void nor written off (its two hashes are equal)
invoice_changes_by_day as (
    select known_date as day, 0 as invoice_rows, sum(known_hash - open_hash) as invoice_hash
    from invoice_hashes
    where known_hash <> open_hash
    group by known_date
),

invoices_by_day as (
    select * from invoices_by_issue_day
    union all
    select * from invoice_changes_by_day
),

invoice_part as (
    select
        c.cutoff_date,
        sum(d.invoice_rows) as invoice_rows,
        sum(d.invoice_hash) as invoice_hash
    from cutoffs as c
    inner join invoices_by_day as d on d.day <= c.cutoff_date
    group by c.cutoff_date
),

payment_rows as (
    select
        p.paid_date,
        hash(
            p.payment_id, p.client_id, p.invoice_id, p.paid_date, p.amount, p.channel, p.payer_name,
            p.reference, l.known_client_id, l.clients_with_name, l.name_client_id
        ) as row_hash
    from {{ ref('stg_payments') }} as p
    inner join {{ ref('int_payment_client_lookups') }} as l on l.payment_id = p.payment_id
),

payments_by_day as (
    select paid_date, count(*) as payment_rows, sum(row_hash) as payment_hash
    from payment_rows
    group by paid_date
),

payment_part as (
    select
        c.cutoff_date,
        coalesce(sum(d.payment_rows), 0) as payment_rows,
        coalesce(sum(d.payment_hash), 0) as payment_hash
    from cutoffs as c
    left join payments_by_day as d on d.paid_date <= c.cutoff_date
    group by c.cutoff_date
),

final as (
    select
        c.cutoff_date,
        hash(
            '{{ local_md5(rule_code | join("\n")) }}',
            coalesce(i.invoice_rows, 0),
            coalesce(i.invoice_hash, 0),
            p.payment_rows,
            p.payment_hash
        ) as input_fingerprint
    from cutoffs as c
    inner join payment_part as p on p.cutoff_date = c.cutoff_date
    left join invoice_part as i on i.cutoff_date = c.cutoff_date
)

select * from final
