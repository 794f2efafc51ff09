{#- int_task_fingerprints incremental by client (models/intermediate/tasks/int_task_fingerprints.sql).

    Its rows are one fingerprint per task; rebuilding all of them hashed and self-joined the 8.8 M tasks
    of a 100,000-client firm every night for ~10,000 that change. The inputs of a task's fingerprint are
    its raw row, its upstream task's raw row and settled day, its staff's and client's attributes, the
    labels, the chain's SQL and (unless the task and its upstream are settled) the as-of date. So the
    table keeps, per row, the task's client_id and whether its fingerprint holds the as-of date
    (as_of_dependent), and beside it, in int_task_fingerprints__inputs (kind, id, input_hash):
      client  per client (id = client_id, '' for none): its tasks' raw rows (bit_xor of the row hashes
              and their count, tasks created on or before the as-of date) and its attributes;
      staff   per staff member (id = staff_id): the attributes the fingerprint reads;
      chain   the chain's SQL and the labels (the constant part of every fingerprint);
      as_of   the as-of date the table was built for (id).
    A night (pre-hook task_fingerprint_changes) computes tonight's inputs once (one pass over the raw
    tasks, grouped by client) into __inputs_next and compares them with the recorded ones; it rebuilds
      - every task of a client whose tasks or attributes changed (a new, re-sent, changed or deleted
        task changes its client's hash; a task moved to another client changes both);
      - every task whose upstream task belongs to such a client (before or after the change);
      - every task of a staff member whose attributes changed;
      - every task whose recorded fingerprint holds the as-of date (open, or its upstream open);
      - every task, when the labels or the chain's SQL changed or the date moved back.
    The stale rows go in the pre-hook (before the append), the post-hook records tonight's inputs. A
    first build, --full-refresh or a table without the inputs record (or without the columns) builds
    every row and records the inputs. -#}

{% macro task_chain_md5() -%}
    {#- the md5 of the task chain's code: the models' SQL and the macros their rows are computed with,
        rendered (their text, with the date and the warehouse's relation names taken out, changes when
        they change) -#}
    {%- set chain_code = [] %}
    {%- if execute %}
        {%- for node in graph.nodes.values() | sort(attribute='unique_id') %}
            {%- if node.resource_type == 'model'
                and node.name in ('fct_tasks', 'int_task_fingerprints', 'mart_progress_detail') %}
                {%- do chain_code.append(node.unique_id ~ '\n' ~ node.raw_code) %}
            {%- endif %}
        {%- endfor %}
        {%- set macros_text = enum_label('enum', 'code') ~ progress_status('state', 'done', 'due')
            ~ progress_status_color('state', 'done', 'due') ~ task_settled_on('r') %}
        {%- do chain_code.append(macros_text | replace(ref('contract_enum_labels') | string, 'labels')
            | replace(as_of_date_str(), 'as_of')) %}
    {%- endif %}
    {{- local_md5(chain_code | join('\n')) -}}
{%- endmacro %}

{% macro task_settled_on(r) -%}
    {#- the day from which a task row's state no longer moves: it ends done or cancelled (the rule of
        fct_tasks) and every event of the row has happened; updated_at counts too, which can only make
        the day later (safe). r: the alias of a stg_tasks row. -#}
    case
        when {{ r }}.completed_at is not null
            or ({{ r }}.status in ('done', 'cancelled') and {{ r }}.updated_at is not null)
            then cast(greatest({{ r }}.created_at, {{ r }}.started_at, {{ r }}.completed_at, {{ r }}.updated_at) as date)
    end
{%- endmacro %}

{% macro task_fingerprint_relation(suffix) -%}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__' ~ suffix)) }}
{%- endmacro %}

{% macro task_fingerprints_incremental() -%}
    {#- the incremental path: the table exists with its bookkeeping columns and the inputs record, the
        chain (labels, SQL) is as recorded and the date did not move back; else every
        row is rebuilt (asked once per step; the hooks and the model ask before either changes anything) -#}
    {%- if not (execute and is_incremental()) %}{{ return(false) }}{% endif %}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
    {%- set inputs = task_fingerprint_relation('inputs') %}
    {%- if not ('as_of_dependent' in columns and 'client_id' in columns and catalog_table_exists(inputs)) %}
        {{ return(false) }}
    {%- endif %}
    {%- set same = run_query(
        "select (select count(*) from (" ~ task_fingerprint_chain_input()
        ~ " except select kind, id, input_hash from " ~ inputs ~ ")) = 0"
        ~ " and (select count(*) from " ~ inputs ~ " where kind = 'chain') = 1"
        ~ " and coalesce((select max(id) from " ~ inputs ~ " where kind = 'as_of')"
        ~ " <= cast(" ~ as_of() ~ " as varchar), false)"
    ).columns[0].values()[0] %}
    {{ return(same) }}
{%- endmacro %}

{% macro task_fingerprint_chain_input() -%}
    {#- the input every task's fingerprint reads: the chain (labels and SQL) -#}
    select 'chain' as kind, '' as id, hash('{{ task_chain_md5() }}', coalesce(sum(hash(l.enum_name, l.code, l.label_cn)), 0))
    from {{ ref('contract_enum_labels') }} as l
{%- endmacro %}

{% macro task_fingerprint_inputs() -%}
    {#- tonight's inputs record (see above) -#}
    select
        'client' as kind,
        coalesce(t.client_key, c.client_id) as id,
        hash(t.rows_hash, t.row_count, c.client_name, c.industry, c.industry_cn) as input_hash
    from (
        select
            coalesce(r.client_id, '') as client_key,
            bit_xor(hash(r)) as rows_hash,
            count(*) as row_count
        from (select * exclude (source_file, source_line) from {{ ref('stg_tasks') }}) as r
        where cast(r.created_at as date) <= {{ as_of() }}
        group by coalesce(r.client_id, '')
    ) as t
    full outer join {{ ref('dim_clients') }} as c on c.client_id = t.client_key
    union all
    select 'staff', staff_id, hash(staff_name, team, role) from {{ ref('dim_staff') }}
    union all
    {{ task_fingerprint_chain_input() }}
    union all
    select 'as_of', cast({{ as_of() }} as varchar), 0
{%- endmacro %}

{% macro task_fingerprint_changes() -%}
    {#- pre-hook: on the incremental path, tonight's inputs, the comparison (kind 'build': a task to
        rebuild, 'client': a changed client) and the stale rows' delete; else every row goes -#}
    {%- set pending = task_fingerprint_relation('pending') %}
    {%- set inputs = task_fingerprint_relation('inputs') %}
    {%- set next = task_fingerprint_relation('inputs_next') %}
    {%- if task_fingerprints_incremental() %}
    create or replace table {{ next }} as {{ task_fingerprint_inputs() }};
    create or replace table {{ pending }} as
    with changed as (
        select coalesce(n.kind, o.kind) as kind, coalesce(n.id, o.id) as id
        from (select * from {{ next }} where kind in ('client', 'staff')) as n
        full outer join (select * from {{ inputs }} where kind in ('client', 'staff')) as o
            on o.kind = n.kind and o.id = n.id and o.input_hash = n.input_hash
        where n.kind is null or o.kind is null
    ),

    changed_clients as (
        select distinct id from changed where kind = 'client'
    ),

    changed_staff as (
        select distinct id from changed where kind = 'staff'
    ),

    -- every task of a changed client, as it is now and as it was built: their dependents are rebuilt
    client_tasks as (
        select r.task_id from {{ ref('stg_tasks') }} as r
        where coalesce(r.client_id, '') in (select id from changed_clients)
        union all
        select b.task_id from {{ this }} as b
        where coalesce(b.client_id, '') in (select id from changed_clients)
    ),

    {#- one semi-join per reason, each over its own scan: an OR of them (mark joins) or a shared CTE
        (materialized) reads every row more slowly #}
    {%- set current_tasks -%}
        {{ ref('stg_tasks') }} as t where cast(t.created_at as date) <= {{ as_of() }}
    {%- endset %}

    select 'client' as kind, id from changed_clients
    union all
    (
        select 'build', t.task_id from {{ current_tasks }}
            and coalesce(t.client_id, '') in (select id from changed_clients)
        union
        select 'build', t.task_id from {{ current_tasks }}
            and t.depends_on_task_id in (select task_id from client_tasks)
        union
        select 'build', t.task_id from {{ current_tasks }}
            and t.task_id in (select b.task_id from {{ this }} as b where b.as_of_dependent)
        union
        select 'build', t.task_id from {{ current_tasks }}
            and t.assignee_id in (select id from changed_staff)
    )
    union all
    -- the rows of changed clients, rebuilt or gone: with 'build', the change log's entry (post-hook)
    select 'gone', b.task_id from {{ this }} as b
    where coalesce(b.client_id, '') in (select id from changed_clients);
    delete from {{ this }} where task_id in (select id from {{ pending }} where kind = 'build');
    delete from {{ this }} where coalesce(client_id, '') in (select id from {{ pending }} where kind = 'client')
    {%- else %}
    drop table if exists {{ pending }};
    drop table if exists {{ next }}
        {%- if is_incremental() %};
    delete from {{ this }}
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{% macro record_task_fingerprint_inputs() -%}
    {#- post-hook: tonight's inputs become the record (computed by the pre-hook on the incremental
        path, here on the full one) -#}
    {%- set pending = task_fingerprint_relation('pending') %}
    {%- set inputs = task_fingerprint_relation('inputs') %}
    {%- set next = task_fingerprint_relation('inputs_next') %}
    {%- if catalog_table_exists(pending) %}
    drop table if exists {{ inputs }};
    alter table {{ next }} rename to {{ inputs.identifier }};
    {{ log_task_fingerprint_changes(pending) }};
    drop table {{ pending }}
    {%- else %}
    create or replace table {{ inputs }} as {{ task_fingerprint_inputs() }};
    {{ reset_fingerprint_change_log(this.identifier) }}
    {%- endif %}
{%- endmacro %}

{#- The change log (read by the consumers' comparison, macros/fingerprint_diff.sql): in schema
    fingerprint_log, outside the schemas the incremental = full comparisons hash,
      <model>__changes        (generation, changed_key): the tasks whose row the night rebuilt or deleted,
                              one generation per incremental run of the model;
      <model>__changes_state  (base, first_generation, last_generation): the log's identity, new at every
                              full build, and the generations it holds completely (first, last].
    A consumer that recorded (base, generation) after its own build compares only the keys logged since. -#}

{% macro fingerprint_change_log_relation(fingerprints, suffix) -%}
    {{ return(api.Relation.create(
        database=this.database, schema='fingerprint_log', identifier=fingerprints ~ '__' ~ suffix)) }}
{%- endmacro %}

{% macro reset_fingerprint_change_log(fingerprints) -%}
    {#- a full build: every key changed; no consumer's record matches the new base -#}
    create schema if not exists {{ fingerprint_change_log_relation(fingerprints, 'changes').schema }};
    create or replace table {{ fingerprint_change_log_relation(fingerprints, 'changes_state') }} as
    select cast(uuid() as varchar) as base, 0::bigint as first_generation, 0::bigint as last_generation;
    create or replace table {{ fingerprint_change_log_relation(fingerprints, 'changes') }} (
        generation bigint, changed_key varchar
    )
{%- endmacro %}

{% macro log_task_fingerprint_changes(pending) -%}
    {#- an incremental run: tonight's generation (the rebuilt and deleted tasks); 30 kept (a consumer
        behind by more compares everything) -#}
    {%- set log = fingerprint_change_log_relation(this.identifier, 'changes') %}
    {%- set state = fingerprint_change_log_relation(this.identifier, 'changes_state') %}
    {%- if catalog_table_exists(log) and catalog_table_exists(state) %}
    insert into {{ log }} (generation, changed_key)
    select s.last_generation + 1, p.id
    from (select distinct id from {{ pending }} where kind in ('build', 'gone')) as p
    cross join {{ state }} as s;
    update {{ state }} set
        first_generation = greatest(first_generation, last_generation - 29),
        last_generation = last_generation + 1;
    delete from {{ log }} where generation <= (select first_generation from {{ state }})
    {%- else %}
    {{ reset_fingerprint_change_log(this.identifier) }}
    {%- endif %}
{%- endmacro %}
