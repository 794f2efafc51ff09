-- One fingerprint per report period of mart_progress_detail (a live task's service month, else its due
-- month) for the period-incremental progress aggregates (mart_progress_summary, mart_progress_rollup;
-- macros/period_fingerprints.sql): the set of the period's live tasks with their task fingerprints, the
-- partial-period flag of the roll-up, and the SQL. A period of settled, unchanged tasks keeps it.
with tasks as (
    select
        coalesce(period, due_period) as period,
        task_id,
        input_fingerprint
    from {{ ref('fct_tasks') }}
    where status_as_of <> 'cancelled'
),

final as (
    select
        period,
        hash(
            '{{ models_code_md5(["int_task_period_fingerprints", "mart_progress_detail",
                                 "mart_progress_summary", "mart_progress_rollup"]) }}',
            {{ task_set_hash() }},
            period >= strftime({{ as_of() }}, '%Y-%m')
        ) as input_fingerprint
    from tasks
    group by period
)

select * from final
