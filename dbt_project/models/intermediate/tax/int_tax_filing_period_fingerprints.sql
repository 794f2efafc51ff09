-- One fingerprint per service period of int_tax_filing_status and mart_tax_filing_status, which are
-- incremental by period (macros/period_fingerprints.sql): a hash of the set of the period's tax_filing
-- tasks with their task fingerprints (int_task_fingerprints: the task's raw row, its client's name,
-- its assignee, and the as-of date while the task is open), of the filing period's deadline with its
-- source and working days left, of whether the deadline has passed, of the at-risk threshold and of
-- the SQL. A period of settled, unchanged filings whose deadline has passed keeps its fingerprint
-- (and its rows); the period whose deadline is still ahead changes with the working days left.
with tasks as (
    select
        period,
        strftime(strptime(period || '-01', '%Y-%m-%d') + interval 1 month, '%Y-%m') as filing_period,
        task_id,
        input_fingerprint
    from {{ ref('fct_tasks') }}
    where stage = 'tax_filing'
      and period is not null
),

final as (
    select
        t.period,
        hash(
            '{{ models_code_md5(["int_tax_filing_deadlines", "int_tax_filing_period_fingerprints",
                                 "int_tax_filing_status", "mart_tax_filing_status"]) }}',
            {{ task_set_hash('t.task_id', 't.input_fingerprint') }},
            any_value(d.deadline),
            any_value(d.deadline_source),
            any_value(d.working_days_left),
            any_value(d.deadline) < {{ as_of() }},
            {{ var('tax_filing_risk_working_days') }}
        ) as input_fingerprint
    from tasks as t
    left join {{ ref('int_tax_filing_deadlines') }} as d on d.filing_period = t.filing_period
    group by t.period
)

select * from final
