-- Board: stages before the current one are done, the current stage is not, days late is positive only
-- for a delayed current stage, and every stage task id carries the state the detail mart gives it.
-- The board is read twice directly, not through one shared CTE: DuckDB materializes a CTE read more
-- than once (every board row with its ~50 columns); the five stages are unpivoted in the one scan.
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
),

stage_tasks as (
    select b.board_key, s.stage, s.task_id, s.state
    from {{ ref('mart_progress_board') }} as b
    cross join lateral (
        values
            ('signing', b.signing_task_id, b.signing_state),
            ('document_collection', b.document_collection_task_id, b.document_collection_state),
            ('bookkeeping', b.bookkeeping_task_id, b.bookkeeping_state),
            ('tax_filing', b.tax_filing_task_id, b.tax_filing_state),
            ('fee_collection', b.fee_collection_task_id, b.fee_collection_state)
    ) as s(stage, task_id, state)
    where s.task_id is not null
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
