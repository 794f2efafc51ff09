-- One input fingerprint per task created on or before the as-of date (macros/fingerprint_incremental.sql):
-- everything the task chain's incremental models (fct_tasks, mart_progress_detail) compute a task's
-- row from. Two runs with the same fingerprint for a task compute the same row, so those models
-- recompute only tasks whose fingerprint is not stored yet. A settled task's fingerprint leaves out the
-- as-of date (its row is the same on every later date); an open task's includes it (recomputed nightly).
-- Incremental by client (macros/task_fingerprints.sql): a night recomputes only the tasks the pre-hook
-- singled out (changed clients, their dependents, open tasks), or every task when that is not possible.
{%- set incremental_rows = task_fingerprints_incremental() %}
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
        -- the day from which the row's state no longer moves (macros/task_fingerprints.sql)
        {{ task_settled_on('r') }} as settled_on
    from (select * exclude (source_file, source_line) from {{ ref('stg_tasks') }}) as r
    where
        cast(r.created_at as date) <= {{ as_of() }}
        {%- if incremental_rows %}
        -- the tasks to rebuild (the pre-hook's comparison)
        and r.task_id in (select p.id from {{ task_fingerprint_relation('pending') }} as p where p.kind = 'build')
        {%- endif %}
),

{%- if incremental_rows %}

-- the upstream tasks of those (their raw rows, whichever are rebuilt)
upstream as (
    select
        r.task_id,
        hash(r) as row_hash,
        {{ task_settled_on('r') }} as settled_on
    from (
        select * exclude (source_file, source_line) from {{ ref('stg_tasks') }}
        where task_id in (select t.depends_on_task_id from tasks as t)
    ) as r
    where cast(r.created_at as date) <= {{ as_of() }}
),
{%- endif %}

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
            '{{ task_chain_md5() }}',
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
        ) as input_fingerprint,
        t.client_id,
        -- the fingerprint holds the as-of date: recomputed every night
        not coalesce(
            t.settled_on <= {{ as_of() }}
            and (t.depends_on_task_id is null or u.settled_on <= {{ as_of() }}),
            false
        ) as as_of_dependent
    from tasks as t
    cross join labels as l
    left join {{ 'upstream' if incremental_rows else 'tasks' }} as u on u.task_id = t.depends_on_task_id
    left join staff as s on s.staff_id = t.assignee_id
    left join clients as c on c.client_id = t.client_id
)

select * from final
