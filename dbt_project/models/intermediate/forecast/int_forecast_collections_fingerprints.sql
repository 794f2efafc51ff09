-- One fingerprint per cutoff date (int_cutoff_dates) of everything int_forecast_collections_monthly reads
-- for it, so that model rebuilds only the cutoffs whose inputs changed (macros/fingerprint_incremental.sql):
-- - the cutoff's applications follow from the payment rule's inputs as known on it, and every application
--   is to an invoice known on it, of the invoice's client: int_forecast_input_fingerprints holds both (the
--   rule's fingerprint of the cutoff, and per invoice known on it its client's industry and its contract's
--   service type, the two attributes the collections are grouped by), with more (contracts, the as-of
--   night's renewal scores) that only make a cutoff rebuild more often;
-- - the firm's first invoice date (the months' start) and the SQL of both models.
{%- set code = [] %}
{%- if execute %}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') %}
        {%- if node.resource_type == 'model'
            and node.name in ('int_forecast_collections_monthly', 'int_forecast_collections_fingerprints') %}
            {%- do code.append(node.unique_id ~ '\n' ~ node.raw_code) %}
        {%- endif %}
    {%- endfor %}
{%- endif %}
with first_invoice as (
    select min(issue_date) as first_issue_date from {{ ref('stg_invoices') }}
),

final as (
    select
        f.cutoff_date,
        hash('{{ local_md5(code | join("\n")) }}', f.input_fingerprint, i.first_issue_date) as input_fingerprint
    from {{ ref('int_forecast_input_fingerprints') }} as f
    cross join first_invoice as i
)

select * from final
