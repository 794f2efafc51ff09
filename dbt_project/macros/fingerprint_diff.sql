{#- The task chain's incremental step with one comparison of fingerprints instead of three whole-table
    passes (core/fct_tasks, marts/progress/mart_progress_detail; macros/fingerprint_incremental.sql has
    the rule). keys_to_build / keys_to_rebuild, the pre-hook's delete_rebuilt_rows, prune_stale_keys
    and record_built_fingerprints each compared or rewrote every (key, fingerprint) pair: at 100,000
    clients 8.8 M pairs, two or three times per model, for ~10,000 keys that change a night.

    Here the pre-hook compares the current fingerprints with those the rows were built for once
    (create_fingerprint_diff: a full outer join on (key, fingerprint)) and keeps the few pairs that
    differ in <model>__pending, in the fingerprint model's schema:
      input_fingerprint  not null: the key's current fingerprint is not built yet (new or changed key);
      built_fingerprint  not null: the key's rows were built for a fingerprint no longer current (a
                         changed key or one that left the set: deleted, cancelled, after a rerun's date).
    The model selects the keys to build from it (diff_keys_to_build), the stale rows are deleted by key
    (delete_stale_rows: before the append for a mart whose fingerprints are kept beside it, after it for
    a model carrying its input_fingerprint column, delete_stale_fingerprint_rows), the recorded
    fingerprints are patched with the same pairs (record_fingerprint_diff) and the pending table is
    dropped. When the comparison is not possible (first build, --full-refresh, no recorded fingerprints
    or no input_fingerprint column yet) the models take their full path as before. -#}

{% macro fingerprint_diff_relation(fingerprints) -%}
    {%- set source = ref(fingerprints) %}
    {{ return(api.Relation.create(
        database=source.database, schema=source.schema, identifier=this.identifier ~ '__pending')) }}
{%- endmacro %}

{% macro pending_diff_exists(fingerprints) -%}
    {#- asked of the catalog, not dbt's relation cache: the pending table is made by this run's pre-hook
        (which drops any left by a failed run when it does not compare) -#}
    {{ return(catalog_table_exists(fingerprint_diff_relation(fingerprints))) }}
{%- endmacro %}

{% macro fingerprint_column_built() -%}
    {#- this model's table exists (incremental run) and carries input_fingerprint (fct_tasks) -#}
    {%- if not (execute and is_incremental()) %}{{ return(false) }}{% endif %}
    {{ return('input_fingerprint' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list)) }}
{%- endmacro %}

{% macro create_fingerprint_diff(fingerprints, key, built) -%}
    {#- built: the relation holding (key, input_fingerprint) of what was built; when this model recorded
        the fingerprint model's change log after its last build (synced_generation), only the keys
        logged since are compared: the others' fingerprints are the ones it built -#}
    {%- set since = synced_generation(fingerprints) %}
    {%- set changed -%}
        {%- if since is not none %}
        where {{ key }} in (
            select c.changed_key from {{ fingerprint_change_log_relation(fingerprints, 'changes') }} as c
            where c.generation > {{ since }}
        )
        {%- endif %}
    {%- endset %}
    create or replace table {{ fingerprint_diff_relation(fingerprints) }} as
    select
        coalesce(f.{{ key }}, b.{{ key }}) as {{ key }},
        f.input_fingerprint,
        b.input_fingerprint as built_fingerprint
    from (select {{ key }}, input_fingerprint from {{ ref(fingerprints) }}{{ changed }}) as f
    full outer join (select {{ key }}, input_fingerprint from {{ built }}{{ changed }}) as b
        on b.{{ key }} = f.{{ key }} and b.input_fingerprint = f.input_fingerprint
    where f.{{ key }} is null or b.{{ key }} is null
{%- endmacro %}

{% macro fingerprint_sync_relation(fingerprints) -%}
    {{ return(api.Relation.create(database=this.database, schema='fingerprint_log',
        identifier=this.schema ~ '__' ~ this.identifier ~ '__synced')) }}
{%- endmacro %}

{% macro synced_generation(fingerprints) -%}
    {#- the change log's generation this model's built fingerprints equal, when the log still holds every
        generation since (same base: no full build of the fingerprints since); else none (compare all) -#}
    {%- set state = fingerprint_change_log_relation(fingerprints, 'changes_state') %}
    {%- set synced = fingerprint_sync_relation(fingerprints) %}
    {%- if not (catalog_table_exists(state) and catalog_table_exists(synced)) %}{{ return(none) }}{% endif %}
    {%- set rows = run_query(
        "select y.generation from " ~ synced ~ " as y inner join " ~ state ~ " as s on s.base = y.base"
        ~ " where y.generation between s.first_generation and s.last_generation"
    ).columns[0].values() %}
    {{ return(rows[0] if rows | length == 1 else none) }}
{%- endmacro %}

{% macro record_fingerprint_sync(fingerprints) -%}
    {#- post-hook, last: this model's built fingerprints now equal the fingerprint model's current ones -#}
    {%- set state = fingerprint_change_log_relation(fingerprints, 'changes_state') %}
    {%- set synced = fingerprint_sync_relation(fingerprints) %}
    {%- if catalog_table_exists(state) %}
    create or replace table {{ synced }} as select base, last_generation as generation from {{ state }}
    {%- else %}
    drop table if exists {{ synced }}
    {%- endif %}
{%- endmacro %}

{% macro diff_keys_to_build(fingerprints, key) -%}
    select p.{{ key }}, p.input_fingerprint
    from {{ fingerprint_diff_relation(fingerprints) }} as p
    where p.input_fingerprint is not null
{%- endmacro %}

{#- mart_progress_detail: fingerprints kept beside the contracted mart (built_fingerprints_relation) -#}

{% macro delete_stale_rows(fingerprints, key) -%}
    {#- pre-hook: the comparison, then the rows of changed and departed keys go; without recorded
        fingerprints on an incremental run every row goes (all are rebuilt) -#}
    {%- if is_incremental() and built_fingerprints_exist(fingerprints) %}
    {{ create_fingerprint_diff(fingerprints, key, built_fingerprints_relation(fingerprints)) }};
    delete from {{ this }}
    where {{ key }} in (
        select p.{{ key }} from {{ fingerprint_diff_relation(fingerprints) }} as p
        where p.built_fingerprint is not null
    )
    {%- else %}
    drop table if exists {{ fingerprint_diff_relation(fingerprints) }}
        {%- if is_incremental() %};
    delete from {{ this }}
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{% macro record_fingerprint_diff(fingerprints, key) -%}
    {#- post-hook: patch the recorded fingerprints with the pending pairs when the pre-hook compared,
        else (first build, --full-refresh, no recorded fingerprints) record them all -#}
    {%- if pending_diff_exists(fingerprints) %}
        {%- set built = built_fingerprints_relation(fingerprints) %}
        {%- set pending = fingerprint_diff_relation(fingerprints) %}
    delete from {{ built }}
    where {{ key }} in (select p.{{ key }} from {{ pending }} as p where p.built_fingerprint is not null);
    insert into {{ built }} ({{ key }}, input_fingerprint)
    select p.{{ key }}, p.input_fingerprint from {{ pending }} as p where p.input_fingerprint is not null;
    drop table {{ pending }}
    {%- else %}
    {{ record_built_fingerprints(fingerprints, key) }}
    {%- endif %}
{%- endmacro %}

{#- fct_tasks: the input_fingerprint column of its own rows is what was built -#}

{% macro create_own_fingerprint_diff(fingerprints, key) -%}
    {#- pre-hook: compare when the model's SQL took the incremental branch (the same test) -#}
    {%- if fingerprint_column_built() %}
    {{ create_fingerprint_diff(fingerprints, key, this) }}
    {%- else %}
    drop table if exists {{ fingerprint_diff_relation(fingerprints) }}
    {%- endif %}
{%- endmacro %}

{% macro delete_stale_fingerprint_rows(fingerprints, key) -%}
    {#- post-hook: after the append, a changed key has its new and its old row; the old pairs go
        (without the pre-hook's comparison: every row whose pair is not current, prune_stale_keys;
        nothing on the full path, whose rows are all built from tonight's fingerprints) -#}
    {%- if pending_diff_exists(fingerprints) %}
        {%- set pending = fingerprint_diff_relation(fingerprints) %}
    delete from {{ this }} as t
    using {{ pending }} as p
    where p.{{ key }} = t.{{ key }} and p.built_fingerprint = t.input_fingerprint;
    drop table {{ pending }}
    {%- elif is_incremental() %}
    {{ prune_stale_keys(fingerprints, key) }}
    {%- endif %}
    {#- a first build or --full-refresh built every row from tonight's fingerprints: none is stale -#}
{%- endmacro %}
