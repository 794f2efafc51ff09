-- 进度看板（环节分布）: client-periods of mart_progress_board per service month × current stage
-- (全部完成 included as its own row), with how many of them are late at that stage.
with board as (
    select * from {{ ref('mart_progress_board') }}
),

final as (
    select
        period || '|' || current_stage as stage_key,
        period,
        current_stage,
        current_stage_cn,
        current_stage = 'all_done' as is_all_done,
        cast(count(*) as integer) as client_periods,
        cast(count(*) filter (where days_late > 0) as integer) as late_client_periods
    from board
    group by period, current_stage, current_stage_cn
)

select * from final
