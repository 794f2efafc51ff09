-- Each client × service period's tax_filing task judged against its deadline: the returns for
-- service month P are filed in month P + 1 by that month's deadline (dim_date.month_tax_deadline).
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
),

workdays as (
    select date_day from {{ ref('dim_date') }} where is_workday
),

-- the working days left are counted once per deadline (a few dozen), not once per filing
deadlines as (
    select
        d.*,
        case
            when d.deadline < {{ as_of() }} then 0
            else (
                select count(*) from workdays as w
                where w.date_day between {{ as_of() }} and d.deadline
            )
        end::integer as working_days_left
    from (
        select distinct
            period, month_tax_deadline as deadline, month_tax_deadline_source as deadline_source
        from {{ ref('dim_date') }}
    ) as d
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
    left join deadlines as d on d.period = j.filing_period
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
