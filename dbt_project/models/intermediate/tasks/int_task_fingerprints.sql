-- One input fingerprint per task created on or before the as-of date (macros/fingerprint_incremental.sql):
-- everything the task chain's incremental models (fct_tasks, mart_progress_detail) compute a task's
-- row from. Two runs with the same fingerprint for a task compute the same row, so those models
-- recompute only tasks whose fingerprint is not stored yet. A settled task's fingerprint leaves out the
-- as-of date (its row is the same on every later date); an open task's includes it (recomputed nightly).
{%- set chain_code = [] %}
{%- if execute %}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') %}
        {%- if node.resource_type == 'model'
            and node.name in ('fct_tasks', 'int_task_fingerprints', 'mart_progress_detail') %}
            {%- do chain_code.append(node.unique_id ~ '\n' ~ node.raw_code) %}
        {%- endif %}
    {%- endfor %}
    {#- the macros the rows are computed with, rendered (their text, with the date and the warehouse's
        relation names taken out, changes when they change) -#}
    {%- set macros_text = enum_label('enum', 'code') ~ progress_status('state', 'done', 'due')
        ~ progress_status_color('state', 'done', 'due') %}
    {%- do chain_code.append(macros_text | replace(ref('contract_enum_labels') | string, 'labels')
        | replace(as_of_date_str(), 'as_of')) %}
{%- endif %}
with labels as (
    select coalesce(sum(hash(l.enum_name, l.code, l.label_cn)), 0) as labels_hash
    from {{ ref('contract_enum_labels') }} as l
),

tasks as (
    select
        r.task_id,
        r.client_id,
        r.assignee_id,
        r.depends_on_task_id,
        hash(r) as row_hash,
        -- the day from which the row's state no longer moves: it ends done or cancelled (the rule of
        -- fct_tasks) and every event of the row has happened; updated_at counts too, which can only
        -- make the day later (safe)
        case
            when r.completed_at is not null
                or (r.status in ('done', 'cancelled') and r.updated_at is not null)
                then cast(greatest(r.created_at, r.started_at, r.completed_at, r.updated_at) as date)
        end as settled_on
    from (select * exclude (source_file, source_line) from {{ ref('stg_tasks') }}) as r
    where cast(r.created_at as date) <= {{ as_of() }}
),

staff as (
    select staff_id, staff_name, team, role from {{ ref('dim_staff') }}
),

clients as (
    select client_id, client_name, industry, industry_cn from {{ ref('dim_clients') }}
),

final as (
    select
        t.task_id,
        hash(
            '{{ local_md5(chain_code | join("\n")) }}',
            l.labels_hash,
            t.row_hash,
            u.row_hash,
            s.staff_name,
            s.team,
            s.role,
            c.client_name,
            c.industry,
            c.industry_cn,
            case
                when t.settled_on <= {{ as_of() }}
                    and (t.depends_on_task_id is null or u.settled_on <= {{ as_of() }})
                    then null
                else {{ as_of() }}
            end
        ) as input_fingerprint
    from tasks as t
    cross join labels as l
    left join tasks as u on u.task_id = t.depends_on_task_id
    left join staff as s on s.staff_id = t.assignee_id
    left join clients as c on c.client_id = t.client_id
)

select * from final
