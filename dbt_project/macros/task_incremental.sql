{#- Incremental build of the task chain (core/fct_tasks, intermediate/tasks/int_task_progress_rows).

    int_task_fingerprints gives every task created on or before as_of_date one input fingerprint: a hash
    of its raw row, its upstream task's raw row, its staff and client attributes, the enum labels and
    the chain's own SQL, plus the as-of date unless the task is settled. A task is settled when it is
    done or cancelled and every event of its row and of its upstream's row (created, started, completed,
    updated) lies on or before the as-of date: its computed row no longer depends on the date.
    Each incremental model stores the fingerprint on every row. A run computes only the tasks whose
    current fingerprint is not stored yet (open tasks: every night; settled tasks: only when an input
    changed — a re-sent row, a reopened or cancelled task, a renamed client, a staff team move, a changed
    upstream task, a new label or SQL), appends them, and the post-hook deletes every row whose
    (task_id, fingerprint) is no longer current: superseded versions and deleted tasks. Kept rows equal
    recomputed ones because everything they are computed from is in the fingerprint.
    `dbt build --full-refresh` rebuilds every row from scratch. -#}

{% macro task_rows_to_build() -%}
    {#- a table built before fingerprints existed (no input_fingerprint column) is rebuilt whole: every
        task is appended, the column added (on_schema_change), and the post-hook drops the old rows -#}
    {%- set fingerprinted = is_incremental()
        and 'input_fingerprint' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) %}
    select f.task_id, f.input_fingerprint
    from {{ ref('int_task_fingerprints') }} as f
    {%- if fingerprinted %}
    where not exists (
        select 1
        from {{ this }} as built
        where built.task_id = f.task_id and built.input_fingerprint = f.input_fingerprint
    )
    {%- endif %}
{%- endmacro %}

{% macro prune_stale_task_rows() -%}
    delete from {{ this }}
    where not exists (
        select 1
        from {{ ref('int_task_fingerprints') }} as f
        where f.task_id = {{ this }}.task_id and f.input_fingerprint = {{ this }}.input_fingerprint
    )
{%- endmacro %}
