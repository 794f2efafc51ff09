-- One fingerprint per cutoff date of everything the payment application rule reads for it: the invoices
-- as known on the cutoff (int_invoices_at_cutoffs), the payments received by then with their client
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

invoice_part as (
    select
        cutoff_date,
        count(*) as invoice_rows,
        sum(hash(invoice_id, client_id, contract_id, issue_date, due_date, amount, is_void, is_written_off))
            as invoice_hash
    from {{ ref('int_invoices_at_cutoffs') }}
    group by cutoff_date
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
