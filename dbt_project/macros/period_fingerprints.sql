{#- Incremental aggregate marts by period (a second fingerprint level above the task's, see
    macros/fingerprint_incremental.sql). A period fingerprint model (int_task_*period_fingerprints) gives
    every period a mart has rows for one fingerprint: a hash of the set of (task_id, input_fingerprint)
    of the fct_tasks rows the mart aggregates into that period, of the as-of flags the mart shows for it
    (current / partial period), of any other input (the staff list) and of the SQL that computes it.
    A task's fingerprint holds the as-of date while its state can still move with the date, so a period
    with an open or unsettled task gets a new fingerprint every night, as does a period a task joined or
    left (a late correction); a period of settled, unchanged tasks keeps its fingerprint and its rows.
    The mart keeps the fingerprints its rows were built for beside it (<mart>__fingerprints, as
    mart_progress_detail does), deletes the rows of changed and departed periods (pre-hook
    delete_rebuilt_rows with row_key = the mart's expression of the period key) and appends the
    periods of keys_to_rebuild. Without the recorded fingerprints (first build, --full-refresh) every
    period is rebuilt. -#}

{% macro models_code_md5(names) -%}
    {#- md5 of the raw SQL of the named models: a change of any of them changes every fingerprint -#}
    {%- set code = [] %}
    {%- if execute %}
        {%- for node in graph.nodes.values() | sort(attribute='unique_id') %}
            {%- if node.resource_type == 'model' and node.name in names %}
                {%- do code.append(node.unique_id ~ '\n' ~ node.raw_code) %}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
    {{- local_md5(code | join('\n')) -}}
{%- endmacro %}

{% macro task_set_hash(task_id='task_id', fingerprint='input_fingerprint') -%}
    {#- an order-free hash of a group's (task, fingerprint) pairs, with their count -#}
    hash(count(*), sum(hash({{ task_id }}, {{ fingerprint }})))
{%- endmacro %}

{% macro rebuilt_periods_filter(fingerprints, key, expression, keyword='where') -%}
    {#- In an incremental build with recorded fingerprints: `<keyword> <expression> in (the keys to
        rebuild)`, restricting a mart's input to its new and changed periods; else nothing (every
        period is built). expression: the period key computed from the rows being filtered. -#}
    {%- if built_fingerprints_exist(fingerprints) %}
    {{ keyword }} {{ expression }} in (select b.{{ key }} from ({{ keys_to_rebuild(fingerprints, key) }}) as b)
    {%- endif %}
{%- endmacro %}
