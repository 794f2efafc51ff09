-- One fingerprint per due month of mart_workload_by_service_type (macros/period_fingerprints.sql): the
-- set of the month's live tasks due by the end of the as-of month with their task fingerprints, the
-- month's current / partial flags, and the SQL. A month of settled, unchanged tasks keeps it.
with tasks as (
    select
        due_period as period,
        task_id,
        input_fingerprint
    from {{ ref('fct_tasks') }}
    where status_as_of <> 'cancelled'
      and due_date <= last_day({{ as_of() }})
),

final as (
    select
        period,
        hash(
            '{{ models_code_md5(["int_task_due_period_fingerprints", "mart_workload_by_service_type"]) }}',
            {{ task_set_hash() }},
            period = strftime({{ as_of() }}, '%Y-%m'),
            {{ as_of() }} < last_day({{ as_of() }})
        ) as input_fingerprint
    from tasks
    group by period
)

select * from final
