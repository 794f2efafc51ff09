-- Each client × service period's tax_filing task judged against its deadline: the returns for
-- service month P are filed in month P + 1 by that month's deadline (dim_date.month_tax_deadline).
-- Incremental by service period (macros/period_fingerprints.sql): a night rebuilds only the periods
-- whose fingerprint (int_tax_filing_period_fingerprints) changed and keeps the others' rows.
-- depends_on: {{ ref('int_tax_filing_period_fingerprints') }}
with filings as (
    select
        t.*,
        row_number() over (
            partition by t.client_id, t.period order by t.created_at desc, t.task_id desc
        ) as rn
    from {{ ref('fct_tasks') }} as t
    where t.stage = 'tax_filing'
      and t.period is not null
      and t.status_as_of <> 'cancelled'
      {{ rebuilt_periods_filter('int_tax_filing_period_fingerprints', 'period', 't.period', keyword='and') }}
),

judged as (
    select
        f.client_id || '|' || f.period as filing_key,
        f.client_id,
        c.client_name,
        f.period,
        strftime(strptime(f.period || '-01', '%Y-%m-%d') + interval 1 month, '%Y-%m') as filing_period,
        f.task_id,
        f.assignee_id,
        f.assignee_name,
        f.status_as_of,
        f.status_as_of_cn,
        f.completed_at,
        f.completed_date
    from filings as f
    left join {{ ref('dim_clients') }} as c on c.client_id = f.client_id
    where f.rn = 1
),

with_deadline as (
    select
        j.*,
        d.deadline,
        d.deadline_source,
        -- a period without a deadline row counts no working days (as the count over no days did)
        coalesce(d.working_days_left, 0) as working_days_left
    from judged as j
    left join {{ ref('int_tax_filing_deadlines') }} as d on d.filing_period = j.filing_period
),

final as (
    select
        *,
        case
            when status_as_of = 'done' and completed_date <= deadline then 'filed_on_time'
            when status_as_of = 'done' then 'filed_late'
            when deadline < {{ as_of() }} then 'overdue'
            when working_days_left <= {{ var('tax_filing_risk_working_days') }} then 'at_risk'
            when status_as_of = 'in_progress' then 'in_progress'
            else 'not_started'
        end as filing_status
    from with_deadline
)

select * from final
