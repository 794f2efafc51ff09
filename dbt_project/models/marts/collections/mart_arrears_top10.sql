-- 欠费 TOP 10: the ten clients owing the most overdue money as of the date, with their payment
-- history over the last 12 months and where their service currently stands.
with receivables as (
    select
        client_id,
        sum(open_receivable_amount) as outstanding_amount,
        sum(open_receivable_amount) filter (where days_past_due > 0) as overdue_amount,
        count(*) filter (where days_past_due > 0) as overdue_invoice_count,
        max(days_past_due) as max_days_overdue
    from {{ ref('fct_invoices') }}
    where open_receivable_amount > 0
    group by client_id
    having sum(open_receivable_amount) filter (where days_past_due > 0) > 0
),

ranked as (
    select
        r.*,
        row_number() over (order by r.overdue_amount desc, r.outstanding_amount desc, r.client_id) as rank
    from receivables as r
),

top_clients as materialized (
    -- the listed clients first: the payment and task look-ups below read only their rows, not a
    -- window over every client's payments and tasks
    select * from ranked
    where rank <= {{ var('arrears_top_n') }}
),

history_12m as (
    -- invoices that fell due in the trailing 12 months: share paid in full by the due date
    select
        client_id,
        count(*) as invoices_due_12m,
        avg(case when paid_on_time then 1.0 else 0.0 end) as on_time_rate_12m
    from {{ ref('fct_invoices') }}
    where not is_void
      and due_date > {{ as_of() }} - interval 12 month
      and due_date <= {{ as_of() }}
      and client_id in (select t.client_id from top_clients as t)
    group by client_id
),

payments as (
    select
        resolved_client_id as client_id,
        paid_date,
        amount,
        row_number() over (partition by resolved_client_id order by paid_date desc, payment_id desc) as recency,
        sum(amount) filter (where paid_date > {{ as_of() }} - interval 12 month)
            over (partition by resolved_client_id) as paid_amount_12m
    from {{ ref('fct_payments') }}
    where resolved_client_id in (select t.client_id from top_clients as t)
),

latest_task as (
    select
        client_id,
        stage,
        stage_cn,
        status_as_of,
        status_as_of_cn,
        row_number() over (
            partition by client_id order by due_date desc, created_at desc, task_id desc
        ) as recency
    from {{ ref('fct_tasks') }}
    where status_as_of <> 'cancelled'
      and client_id in (select t.client_id from top_clients as t)
),

final as (
    select
        cast(r.rank as integer) as rank,
        r.client_id,
        c.client_name,
        c.industry,
        c.industry_cn,
        c.accountant_id,
        c.accountant_name,
        c.team,
        c.status_as_of_cn as client_status_cn,
        cast(r.outstanding_amount as decimal(18, 2)) as outstanding_amount,
        cast(r.overdue_amount as decimal(18, 2)) as overdue_amount,
        cast(r.overdue_invoice_count as integer) as overdue_invoice_count,
        cast(r.max_days_overdue as integer) as max_days_overdue,
        cast(coalesce(h.invoices_due_12m, 0) as integer) as invoices_due_12m,
        cast(h.on_time_rate_12m as double) as on_time_rate_12m,
        cast(coalesce(p.paid_amount_12m, 0) as decimal(18, 2)) as paid_amount_12m,
        p.paid_date as last_payment_date,
        cast(p.amount as decimal(18, 2)) as last_payment_amount,
        t.stage as current_stage,
        t.stage_cn as current_stage_cn,
        t.status_as_of as current_stage_status,
        t.status_as_of_cn as current_stage_status_cn
    from top_clients as r
    inner join {{ ref('dim_clients') }} as c on c.client_id = r.client_id
    left join history_12m as h on h.client_id = r.client_id
    left join payments as p on p.client_id = r.client_id and p.recency = 1
    left join latest_task as t on t.client_id = r.client_id and t.recency = 1
)

select * from final
