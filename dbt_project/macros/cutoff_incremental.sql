{#- Incremental build of the payment application rule per cutoff date (models/intermediate/payments).

    Each *_at_cutoffs model stores, on every row, the input fingerprint of its cutoff
    (int_cutoff_input_fingerprints: a hash of everything the rule reads for that cutoff, and of the
    rule's own SQL). A run computes only the cutoffs whose current fingerprint is not stored yet — a new
    cutoff (tonight's as_of_date, a new month end) or one whose inputs changed since it was built (a late
    payment, a back-dated void or write-off, a re-sent row with other values, a new client whose name now
    matches a payer) — appends them, and the post-hook deletes every row whose (cutoff, fingerprint) is
    no longer current: superseded versions and cutoffs that left the window. Unchanged cutoffs are kept
    as built, which equals recomputing them because their inputs are the same.
    `dbt build --full-refresh` rebuilds every cutoff from scratch. A change of the rule's SQL changes every
    fingerprint, so the next night rebuilds every cutoff (columns follow: on_schema_change sync_all_columns). -#}

{% macro cutoffs_to_build() -%}
    {#- a table built before fingerprints existed (no input_fingerprint column) is rebuilt whole: every
        cutoff is appended, the column added (on_schema_change), and the post-hook drops the old rows -#}
    {%- set fingerprinted = is_incremental()
        and 'input_fingerprint' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) %}
    select f.cutoff_date, f.input_fingerprint
    from {{ ref('int_cutoff_input_fingerprints') }} as f
    {%- if fingerprinted %}
    where not exists (
        select 1
        from (select distinct cutoff_date, input_fingerprint from {{ this }}) as built
        where built.cutoff_date = f.cutoff_date and built.input_fingerprint = f.input_fingerprint
    )
    {%- endif %}
{%- endmacro %}

{% macro prune_stale_cutoffs() -%}
    delete from {{ this }}
    where not exists (
        select 1
        from {{ ref('int_cutoff_input_fingerprints') }} as f
        where f.cutoff_date = {{ this }}.cutoff_date and f.input_fingerprint = {{ this }}.input_fingerprint
    )
{%- endmacro %}
