{#- Data tests of an incremental model scoped to the keys built since its tests last passed.

    An incremental model by fingerprint (macros/fingerprint_incremental.sql, fingerprint_diff.sql) writes
    only the rows of the keys it builds tonight (the per-cutoff payment rule: a cutoff's rows; the task
    chain: a task's row) and otherwise only deletes whole keys. So a property of a key's own rows, such
    as `unique` on (cutoff_date, payment_id) or on task_id, can only break in a key built since the test
    last passed: the rows of every other key are the ones that test already read. At 100,000 clients
    the four per-cutoff unique tests grouped 13.7 M keys each (~19 node-s of the one-day night) for the
    one or two cutoffs built that night; fct_tasks' and the detail mart's grouped 8.8 M tasks for ~8,000.
    The tax filing status pair (incremental by service period) opts in by period the same way.

    The keys are kept per model in test_scope.<schema>__<model> (one column, the key), outside the
    schemas the incremental = full comparisons hash:
    - pre-hook (record_untested_pending_keys: the task chain; record_untested_period_keys: the models that
      record their built fingerprints, by period, board key or cutoff): an incremental build adds the keys
      it is about to build to the table when the table exists; a build on the full path (first build,
      --full-refresh, an upgrade night's full refresh, no fingerprint comparison) drops it.
    - tests opt in with `config: {meta: {incremental_scope_key: <key column>}}`; the project's
      get_where_subquery then reads only the rows whose key is in the table, and every row when there
      is no table (so the first test after a full build checks everything).
    - on-run-end (clear_untested_keys): a model whose opted-in tests all ran in this invocation and all
      passed gets an empty table (created when missing). A failed, erroring or skipped test, or one not
      selected, leaves the keys, so the next invocation's tests read them again with the new ones.
    Only tests of a property of each key's own rows may opt in (unique on a key that contains the
    incremental key); a test that reads other models (relationships) must not: its answer can change
    for a kept key.

    A singular test that reconciles scoped models with each other opts in with
    `config(meta={'incremental_scope': {<model>: <key column>, ...}})` and filters each model itself with
    untested_keys_filter (every row when that model has no key table). Its answer can change only where
    one of those models wrote rows since it last passed, so it must read the rows those keys reach in
    every model it joins (the test's own comment says how); on-run-end counts it among each listed
    model's opted-in tests, so their keys stay until it passed too.

    The loader scopes the staging views' unique tests on the raw primary keys the same way
    (orchestration/loading/bookkeeping.py, record_loaded_keys): a merge load adds the keys it wrote to
    test_scope.staging__stg_<entity>, a full reload drops it; the table is raw's bookkeeping, written in
    the load's transaction. -#}

{% macro untested_keys_relation(relation) -%}
    {{ return(api.Relation.create(
        database=relation.database, schema='test_scope', identifier=relation.schema ~ '__' ~ relation.identifier)) }}
{%- endmacro %}

{% macro catalog_table_exists(relation) -%}
    {#- asked of DuckDB's catalog, not dbt's relation cache (hooks create and drop these tables) -#}
    {%- if not execute %}{{ return(false) }}{% endif %}
    {%- set found = run_query(
        "select count(*) from duckdb_tables() where database_name = '" ~ relation.database
        ~ "' and schema_name = '" ~ relation.schema ~ "' and table_name = '" ~ relation.identifier ~ "'"
    ).columns[0].values()[0] %}
    {{ return(found > 0) }}
{%- endmacro %}

{% macro record_untested_pending_keys(fingerprints, key) -%}
    {#- pre-hook after the task chain's fingerprint comparison: the keys it builds are the pending pairs
        with a current fingerprint; without a comparison the model takes its full path -#}
    {%- set marker = untested_keys_relation(this) %}
    {%- if is_incremental() and pending_diff_exists(fingerprints) and catalog_table_exists(marker) %}
    insert into {{ marker }} ({{ key }})
    select distinct p.{{ key }} from {{ fingerprint_diff_relation(fingerprints) }} as p
    where p.input_fingerprint is not null
    {%- elif not (is_incremental() and pending_diff_exists(fingerprints)) %}
    drop table if exists {{ marker }}
    {%- endif %}
{%- endmacro %}

{% macro record_untested_period_keys(fingerprints, key) -%}
    {#- pre-hook of a model incremental by period (macros/period_fingerprints.sql), after
        delete_rebuilt_rows: the keys it builds are keys_to_rebuild; without recorded fingerprints
        (first build, --full-refresh, lost) it rebuilds every period: the full path -#}
    {%- set marker = untested_keys_relation(this) %}
    {%- if built_fingerprints_exist(fingerprints) %}
        {%- if catalog_table_exists(marker) %}
    insert into {{ marker }} ({{ key }})
    select distinct b.{{ key }} from ({{ keys_to_rebuild(fingerprints, key) }}) as b
        {%- endif %}
    {%- else %}
    drop table if exists {{ marker }}
    {%- endif %}
{%- endmacro %}

{% macro duckdb__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') %}
    {%- set key = (config.get('meta') or {}).get('incremental_scope_key') %}
    {%- set marker = untested_keys_relation(relation) if key and execute else none %}
    {%- if marker is not none and catalog_table_exists(marker) %}
        {%- set filtered -%}
            (select * from {{ relation }}
             where {{ key }} in (select m.{{ key }} from {{ marker }} as m)
             {%- if where %} and ({{ where }}){% endif %}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else %}
        {{ return(dbt.default__get_where_subquery(relation)) }}
    {%- endif %}
{%- endmacro %}

{% macro untested_keys_filter(model, key, expression=none) -%}
    {#- a singular test's filter: the rows whose `expression` (default: the key column) is one of model's
        (a ref) untested keys; true (every row) when model has no key table, and at parse time -#}
    {%- set marker = untested_keys_relation(model) if execute else none %}
    {%- if marker is not none and catalog_table_exists(marker) -%}
        {{ expression or key }} in (select m.{{ key }} from {{ marker }} as m)
    {%- else -%}
        true
    {%- endif %}
{%- endmacro %}

{% macro untested_periods_filter(summary, detail) -%}
    {#- The summary tests' filter (tests/progress/progress_summary_*): summary_key begins with the period,
        so each period's summary rows are compared with that period's detail rows alone. The summary
        writes and deletes whole periods, the detail whole tasks: the periods read are those the summary
        rebuilt and those of the detail rows built since the tests passed. A detail row deleted from a
        period (a task that moved or left) changes that period's fingerprint
        (int_task_period_fingerprints hashes its tasks), so the summary rebuilt it. Without either
        model's key table: every period (true). -#}
    {%- set summary_built = untested_keys_filter(summary, 'period', 's.period') | trim %}
    {%- set detail_built = untested_keys_filter(detail, 'task_id', 'd.task_id') | trim %}
    {%- if summary_built == 'true' or detail_built == 'true' -%}
        true
    {%- else -%}
        period in (
            select s.period from {{ summary }} as s where {{ summary_built }}
            union
            select d.period from {{ detail }} as d where {{ detail_built }}
        )
    {%- endif %}
{%- endmacro %}

{% macro clear_untested_keys(results) -%}
    {#- on-run-end -#}
    {%- if not execute %}{{ return('') }}{% endif %}
    {%- set status = {} %}
    {%- for result in results if result.node.resource_type == 'test' %}
        {%- do status.update({result.node.unique_id: result.status | string}) %}
    {%- endfor %}
    {%- set models = {} %}
    {%- for node in graph.nodes.values() if node.resource_type == 'test' %}
        {%- set meta = (node.config or {}).meta or {} %}
        {%- set scoped = {} %}
        {%- if meta.get('incremental_scope_key') and node.attached_node %}
            {%- do scoped.update({node.attached_node: meta.get('incremental_scope_key')}) %}
        {%- endif %}
        {%- for name, key in (meta.get('incremental_scope') or {}).items() %}
            {%- do scoped.update({'model.' ~ project_name ~ '.' ~ name: key}) %}
        {%- endfor %}
        {%- for unique_id, key in scoped.items() %}
            {%- set entry = models.setdefault(unique_id, {'key': key, 'passed': true}) %}
            {%- if status.get(node.unique_id) != 'pass' %}{% do entry.update({'passed': false}) %}{% endif %}
        {%- endfor %}
    {%- endfor %}
    {%- set statements = [] %}
    {%- for unique_id, entry in models.items() if entry.passed and unique_id in graph.nodes %}
        {%- set node = graph.nodes[unique_id] %}
        {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) %}
        {%- if relation is not none %}
            {%- set marker = untested_keys_relation(relation) %}
            {%- do statements.append('create schema if not exists ' ~ marker.database ~ '.' ~ marker.schema) %}
            {%- do statements.append('create or replace table ' ~ marker ~ ' as select ' ~ entry.key
                ~ ' from ' ~ relation ~ ' limit 0') %}
        {%- endif %}
    {%- endfor %}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}
