-- One fingerprint per cutoff date (int_cutoff_dates) of everything int_forecast_components reads for it,
-- so that model rebuilds only the cutoffs whose inputs changed (macros/fingerprint_incremental.sql):
-- - the payment rule's inputs as known on the cutoff (int_cutoff_input_fingerprints: the invoices as
--   known then, the payments received by then, the rule's SQL; the applications follow from them);
-- - per invoice known on the cutoff: its client's industry, its contract's service type, predecessor
--   and signing date (the reference distribution, open invoices and new business read these);
-- - every contract signed by the cutoff, with its client's industry and whether it was terminated by
--   then (the scheduled invoices, the renewal rate, the successors);
-- - on the as-of date: that night's renewal scores (ml.renewal_scores);
-- - whether the cutoff is the as-of date (6 months ahead) or a month end (1), the forecast vars, and the
--   SQL of int_forecast_components, of the client and contract models both read (int_forecast_clients,
--   int_forecast_contracts) and of this model.
-- Row hashes are summed (order-independent) with row counts, as in int_cutoff_input_fingerprints.
{%- set code = [] %}
{%- if execute %}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') %}
        {%- if node.resource_type == 'model'
            and node.name in ('int_forecast_components', 'int_forecast_input_fingerprints',
                              'int_forecast_clients', 'int_forecast_contracts') %}
            {%- do code.append(node.unique_id ~ '\n' ~ node.raw_code) %}
        {%- endif %}
    {%- endfor %}
{%- endif %}
{%- set params = [
    var('forecast_max_offset_months'), var('forecast_reference_months'), var('forecast_horizon_months'),
    var('forecast_min_client_invoices'), var('forecast_default_renewal_rate')] %}

with cutoffs as (
    select cutoff_date, is_as_of_date from {{ ref('int_cutoff_dates') }}
),

clients as (
    select * from {{ ref('int_forecast_clients') }}
),

contracts_all as (
    select * from {{ ref('int_forecast_contracts') }}
),

invoice_rows as (
    -- an invoice's attributes here do not depend on the cutoff and it is known at every cutoff on or
    -- after its issue date: hashed once from the as-of date's invoices (the latest cutoff's, which hold
    -- every earlier cutoff's), summed per issue date, then per cutoff over the days up to it
    select
        i.issue_date,
        hash(i.invoice_id, cl.industry, k.service_type, k.previous_contract_id, k.effective_signed_date) as row_hash
    from {{ ref('int_invoices_at_cutoffs') }} as i
    inner join cutoffs as c on c.cutoff_date = i.cutoff_date and c.is_as_of_date
    left join clients as cl on cl.client_id = i.client_id
    left join contracts_all as k on k.contract_id = i.contract_id
),

invoices_by_day as (
    select issue_date, count(*) as invoice_rows, sum(row_hash) as invoice_hash
    from invoice_rows
    group by issue_date
),

invoice_part as (
    select
        c.cutoff_date,
        cast(sum(d.invoice_rows) as bigint) as invoice_rows,
        sum(d.invoice_hash) as invoice_hash
    from cutoffs as c
    inner join invoices_by_day as d on d.issue_date <= c.cutoff_date
    group by c.cutoff_date
),

contract_rows_hashed as materialized (
    -- each contract's cutoff-independent part hashed once, with its client's industry; materialized, or
    -- DuckDB joins the clients after the range join below (3.2 M contract × cutoff rows at 100,000
    -- clients instead of 267 k contracts: two thirds of this model's time)
    select
        k.effective_signed_date,
        k.source_status = 'terminated' as is_terminated,
        k.source_updated_date,
        hash(
            k.contract_id, k.client_id, cl.industry, k.service_type, k.fee_per_cycle, k.billing_cycle,
            k.start_date, k.end_date, k.effective_signed_date, k.previous_contract_id
        ) as contract_hash
    from contracts_all as k
    left join clients as cl on cl.client_id = k.client_id
),

contract_part as (
    -- per cutoff: every contract signed by then, and whether it was terminated by then
    select
        c.cutoff_date,
        count(*) as contract_rows,
        sum(hash(k.contract_hash, k.is_terminated and k.source_updated_date <= c.cutoff_date)) as contract_hash
    from cutoffs as c
    inner join contract_rows_hashed as k on k.effective_signed_date <= c.cutoff_date
    group by c.cutoff_date
),

score_part as (
    select
        as_of_date as cutoff_date,
        count(*) as score_rows,
        sum(hash(contract_id, renewal_probability)) as score_hash
    from {{ ref('renewal_scores') }}
    group by as_of_date
),

final as (
    select
        c.cutoff_date,
        hash(
            '{{ local_md5(code | join("\n") ~ (params | join(","))) }}',
            c.is_as_of_date,
            f.input_fingerprint,
            coalesce(i.invoice_rows, 0),
            coalesce(i.invoice_hash, 0),
            coalesce(k.contract_rows, 0),
            coalesce(k.contract_hash, 0),
            coalesce(s.score_rows, 0),
            coalesce(s.score_hash, 0)
        ) as input_fingerprint
    from cutoffs as c
    inner join {{ ref('int_cutoff_input_fingerprints') }} as f on f.cutoff_date = c.cutoff_date
    left join invoice_part as i on i.cutoff_date = c.cutoff_date
    left join contract_part as k on k.cutoff_date = c.cutoff_date
    left join score_part as s on s.cutoff_date = c.cutoff_date and c.is_as_of_date
)

select * from final
