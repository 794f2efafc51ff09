-- Board: stages before the current one are done, the current stage is not, days late is positive only
-- for a delayed current stage, and every stage task id carries the state the detail mart gives it.
with board as (
    select * from {{ ref('mart_progress_board') }}
),

positions as (
    select
        *,
        case current_stage
            when 'signing' then 0 when 'document_collection' then 1 when 'bookkeeping' then 2
            when 'tax_filing' then 3 when 'fee_collection' then 4 else 5
        end as current_position
    from board
),

stage_tasks as (
    select board_key, 'signing' as stage, signing_task_id as task_id, signing_state as state from board
    union all
    select board_key, 'document_collection', document_collection_task_id, document_collection_state from board
    union all
    select board_key, 'bookkeeping', bookkeeping_task_id, bookkeeping_state from board
    union all
    select board_key, 'tax_filing', tax_filing_task_id, tax_filing_state from board
    union all
    select board_key, 'fee_collection', fee_collection_task_id, fee_collection_state from board
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
where st.task_id is not null
  and (d.task_id is null or d.state <> st.state or d.stage <> st.stage)
