-- Board: stages before the current one are done, the current stage is not, days late is positive only
-- for a delayed current stage, and every stage task id carries the state the detail mart gives it.
-- The board is read directly by each part, not through one shared CTE (which DuckDB materializes whole);
-- stages without a task are dropped before the join to the detail. (Unpivoting the five stages in one
-- scan with a lateral VALUES took 2.4 times the CPU at 100,000 clients.)
-- Scoped to what was built since this test last passed (macros/untested_keys.sql): the board writes
-- and deletes whole board keys and the detail whole tasks, so a row's answer can change only if its
-- board key was rebuilt (the first part reads nothing else) or, for the second part, also if the stage
-- task's detail row was built. A detail row deleted since (a task that left the detail) is not in the
-- detail's key table: a board row still naming it is rebuilt with it, since the board fingerprint
-- hashes the month's chain tasks (int_progress_board_fingerprints). Without a key table: every row.
{{ config(meta={'incremental_scope': {'mart_progress_board': 'board_key', 'mart_progress_detail': 'task_id'}}) }}
{%- set built_rows = untested_keys_filter(ref('mart_progress_board'), 'board_key') %}
with positions as (
    select
        board_key,
        current_stage,
        current_stage_state,
        stages_done_count,
        days_late,
        case current_stage
            when 'signing' then 0 when 'document_collection' then 1 when 'bookkeeping' then 2
            when 'tax_filing' then 3 when 'fee_collection' then 4 else 5
        end as current_position
    from {{ ref('mart_progress_board') }}
    where {{ built_rows }}
),

stage_tasks as (
    {%- for s in ['signing', 'document_collection', 'bookkeeping', 'tax_filing', 'fee_collection'] %}
    select board_key, '{{ s }}' as stage, {{ s }}_task_id as task_id, {{ s }}_state as state
    from {{ ref('mart_progress_board') }}
    where
        {{ s }}_task_id is not null
        and ({{ built_rows }}
            or {{ untested_keys_filter(ref('mart_progress_detail'), 'task_id', s ~ '_task_id') }})
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select board_key, 'current stage' as problem
from positions
where stages_done_count < current_position
   or current_stage_state = 'completed'
   or (current_stage = 'all_done') <> (stages_done_count = 5)
   or (days_late > 0 and coalesce(current_stage_state, '') <> 'delayed')
   or days_late < 0

union all

select st.board_key, 'stage ' || st.stage || ' disagrees with detail' as problem
from stage_tasks as st
left join {{ ref('mart_progress_detail') }} as d on d.task_id = st.task_id
where d.task_id is null or d.state <> st.state or d.stage <> st.stage
