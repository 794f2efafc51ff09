{#- Incremental build by input fingerprint: the payment application rule per cutoff date
    (models/intermediate/payments/*_at_cutoffs, *_direct, *_client) and the task chain per task
    (core/fct_tasks, marts/progress/mart_progress_detail: its fingerprints kept beside it, below).

    A fingerprint model gives every key one input fingerprint: a hash of everything the incremental
    models compute that key's rows from, and of their own SQL.
    - int_cutoff_input_fingerprints, key cutoff_date: the invoices as known on the cutoff, the payments
      received by then with their client-master lookups, the rule's SQL. A new cutoff (tonight's
      as_of_date, a new month end) or a changed input (a late payment, a back-dated void or write-off, a
      re-sent row with other values, a new client whose name now matches a payer) gives a new one.
    - int_task_fingerprints, key task_id: the task's raw row, its upstream task's raw row, its staff and
      client attributes, the enum labels and the chain's SQL, plus the as-of date unless the task is
      settled (done or cancelled, every event of its row and of its upstream's row on or before the
      as-of date: its computed row no longer depends on the date). Open tasks get a new one every
      night, settled tasks only when an input changed (a re-sent row, a reopened or cancelled task, a
      renamed client, a staff team move, a changed upstream task, a new label or SQL).
    Each incremental model stores the fingerprint on every row. A run computes only the keys whose
    current (key, fingerprint) is not stored yet (`keys_to_build`), appends them, and the post-hook
    (`prune_stale_keys`) deletes every row whose (key, fingerprint) is no longer current: superseded
    versions and keys that left the set (cutoffs out of the window, deleted tasks). Kept rows equal
    recomputed ones because everything they are computed from is in the fingerprint. (The task chain
    compares once per run instead, macros/fingerprint_diff.sql; the per-cutoff models record their
    built pairs beside them, below.)
    `dbt build --full-refresh` rebuilds every row from scratch; a change of the models' SQL changes every
    fingerprint, so the next night rebuilds every key once (columns follow: on_schema_change
    sync_all_columns). -#}

{% macro keys_to_build(fingerprints, key, rows_per_key='one') -%}
    {#- fingerprints: the fingerprint model's name; key: its key column, also a column of this model;
        rows_per_key: 'one' (a task) or 'many' (a cutoff's rows: the stored pairs are made distinct
        before the anti-join, a handful of rows instead of every row).
        A table built before fingerprints existed (no input_fingerprint column) is rebuilt whole: every
        key is appended, the column added (on_schema_change), and the post-hook drops the old rows. -#}
    {%- set fingerprinted = is_incremental()
        and 'input_fingerprint' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) %}
    select f.{{ key }}, f.input_fingerprint
    from {{ ref(fingerprints) }} as f
    {%- if fingerprinted %}
    where not exists (
        select 1
        from
            {%- if rows_per_key == 'many' %} (select distinct {{ key }}, input_fingerprint from {{ this }}) as built
            {%- else %} {{ this }} as built
            {%- endif %}
        where built.{{ key }} = f.{{ key }} and built.input_fingerprint = f.input_fingerprint
    )
    {%- endif %}
{%- endmacro %}

{% macro prune_stale_keys(fingerprints, key) -%}
    delete from {{ this }}
    where not exists (
        select 1
        from {{ ref(fingerprints) }} as f
        where f.{{ key }} = {{ this }}.{{ key }} and f.input_fingerprint = {{ this }}.input_fingerprint
    )
{%- endmacro %}

{#- A contracted mart cannot carry an input_fingerprint column (its columns are its contract), so a
    contracted model incremental by fingerprint (mart_progress_detail) keeps the fingerprints its rows
    were built for beside it, in the fingerprint model's schema: <model>__fingerprints (key,
    input_fingerprint), rewritten after every build by its post-hook (record_built_fingerprints). Its
    rows are those of the keys in that table; a night deletes the rows of keys whose fingerprint changed
    or that left the set (pre-hook delete_rebuilt_rows) and appends the rows of keys_to_rebuild. Without
    the table (a first build, --full-refresh, the table dropped) every row is rebuilt.

    The per-cutoff models (intermediate/payments: int_invoices_at_cutoffs, int_payments_identified_at_cutoffs,
    int_payment_applications_direct / _client / _at_cutoffs; intermediate/forecast: int_forecast_components,
    int_forecast_collections_monthly) keep their input_fingerprint column but are kept the same way
    (keys_to_build_recorded, delete_rebuilt_rows, record_built_fingerprints): each cutoff has ~1 M rows at
    100,000 clients, and the distinct (cutoff, fingerprint) pairs of ~13 M rows (twice a model: the
    untested-keys pre-hook and the model) and the post-hook's anti-join over every row
    (prune_stale_keys) cost with the rows, the recorded pairs with the cutoffs (a dozen). -#}

{% macro built_fingerprints_relation(fingerprints) -%}
    {%- set source = ref(fingerprints) %}
    {{ return(api.Relation.create(
        database=source.database, schema=source.schema, identifier=this.identifier ~ '__fingerprints')) }}
{%- endmacro %}

{% macro built_fingerprints_exist(fingerprints) -%}
    {%- if not (execute and is_incremental()) %}{{ return(false) }}{% endif %}
    {%- set built = built_fingerprints_relation(fingerprints) %}
    {{ return(adapter.get_relation(database=built.database, schema=built.schema, identifier=built.identifier)
        is not none) }}
{%- endmacro %}

{% macro keys_to_rebuild(fingerprints, key) -%}
    select f.{{ key }}, f.input_fingerprint
    from {{ ref(fingerprints) }} as f
    where not exists (
        select 1
        from {{ built_fingerprints_relation(fingerprints) }} as built
        where built.{{ key }} = f.{{ key }} and built.input_fingerprint = f.input_fingerprint
    )
{%- endmacro %}

{% macro keys_to_build_recorded(fingerprints, key) -%}
    {#- The keys a model that records its built fingerprints beside it builds tonight: keys_to_rebuild
        when the record exists, else (first build, --full-refresh, the record lost: delete_rebuilt_rows
        has deleted every row) every key of the fingerprint model. The per-cutoff models use it (below). -#}
    {%- if built_fingerprints_exist(fingerprints) %}
    {{- keys_to_rebuild(fingerprints, key) }}
    {%- else %}
    select f.{{ key }}, f.input_fingerprint
    from {{ ref(fingerprints) }} as f
    {%- endif %}
{%- endmacro %}

{% macro delete_rebuilt_rows(fingerprints, key, row_key=none) -%}
    {#- row_key: the key as an expression of the model's columns when it has no column named key -#}
    {%- if is_incremental() and built_fingerprints_exist(fingerprints) %}
    delete from {{ this }}
    where {{ row_key or key }} in (
        select built.{{ key }}
        from {{ built_fingerprints_relation(fingerprints) }} as built
        where not exists (
            select 1
            from {{ ref(fingerprints) }} as f
            where f.{{ key }} = built.{{ key }} and f.input_fingerprint = built.input_fingerprint
        )
    )
    {%- elif is_incremental() %}
    delete from {{ this }}
    {%- endif %}
{%- endmacro %}

{% macro record_built_fingerprints(fingerprints, key) -%}
    create or replace table {{ built_fingerprints_relation(fingerprints) }} as
    select {{ key }}, input_fingerprint from {{ ref(fingerprints) }}
{%- endmacro %}

{% macro apply_not_null_constraints() -%}
    {#- Post-hook of a contracted incremental model: dbt creates the contract's not_null constraints only
        with the table, so one declared later would never reach an incremental table. Adds each declared
        not_null constraint the table lacks (DuckDB checks the stored rows when it is added). -#}
    {%- if execute %}
        {%- set declared = [] %}
        {%- for name, column in model.columns.items() %}
            {%- for constraint in column.constraints if constraint.type == 'not_null' %}
                {%- do declared.append(name) %}
            {%- endfor %}
        {%- endfor %}
        {%- set present = run_query(
            "select unnest(constraint_column_names) from duckdb_constraints()"
            ~ " where constraint_type = 'NOT NULL' and database_name = '" ~ this.database
            ~ "' and schema_name = '" ~ this.schema ~ "' and table_name = '" ~ this.identifier ~ "'"
        ).columns[0].values() %}
        {%- for name in declared if name not in present %}
    alter table {{ this }} alter column {{ adapter.quote(name) }} set not null;
        {%- endfor %}
    {%- endif %}
{%- endmacro %}
