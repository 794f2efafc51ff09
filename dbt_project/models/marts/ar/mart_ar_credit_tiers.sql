-- 客户信用分级: one row per client billed in the trailing 24 months or owing money as of the date,
-- with a credit tier from payment history and overdue behaviour (doc metric_credit_tier) and the
-- collection strategy for that tier. Payment history = invoices that fell due in the trailing 12
-- months (due_date in (as_of − 12 months, as_of]); overdue behaviour = the open receivables now.
with invoices as (
    select * from {{ ref('fct_invoices') }}
    where not is_void
),

history as (
    select
        client_id,
        count(*) as invoices_due_12m,
        count(*) filter (where paid_on_time) as paid_on_time_12m,
        count(*) filter (
            where datediff('day', due_date, coalesce(fully_paid_date, {{ as_of() }})) > {{ var('credit_tier_grace_days') }}
        ) as paid_late_12m,
        avg(greatest(coalesce(datediff('day', due_date, fully_paid_date), days_past_due), 0)) as avg_days_late_12m
    from invoices
    where due_date > {{ as_of() }} - interval 12 month
      and due_date <= {{ as_of() }}
    group by client_id
),

open_items as (
    select
        client_id,
        sum(open_receivable_amount) as open_receivable_amount,
        coalesce(sum(open_receivable_amount) filter (where days_past_due > 0), 0) as overdue_amount,
        max(days_past_due) as max_days_past_due
    from invoices
    where open_receivable_amount > 0
    group by client_id
),

in_scope as (
    select client_id from invoices where issue_date > {{ as_of() }} - interval 24 month
    union
    select client_id from open_items
),

measured as (
    select
        s.client_id,
        coalesce(h.invoices_due_12m, 0) as invoices_due_12m,
        coalesce(h.paid_on_time_12m, 0) as paid_on_time_12m,
        h.paid_on_time_12m / nullif(h.invoices_due_12m, 0) as on_time_rate_12m,
        coalesce(h.paid_late_12m, 0) as paid_late_12m,
        h.paid_late_12m / nullif(h.invoices_due_12m, 0) as late_share_12m,
        h.avg_days_late_12m,
        coalesce(o.open_receivable_amount, 0) as open_receivable_amount,
        coalesce(o.overdue_amount, 0) as overdue_amount,
        coalesce(o.max_days_past_due, 0) as max_days_past_due
    from in_scope as s
    left join history as h on h.client_id = s.client_id
    left join open_items as o on o.client_id = s.client_id
),

tiered as (
    select
        *,
        case
            when max_days_past_due > {{ var('credit_tier_d_days_past_due') }}
              or late_share_12m >= {{ var('credit_tier_d_late_share') }} then 'D'
            when max_days_past_due > {{ var('credit_tier_c_days_past_due') }}
              or late_share_12m >= {{ var('credit_tier_c_late_share') }} then 'C'
            when invoices_due_12m = 0 then 'N'
            when max_days_past_due > 0 or on_time_rate_12m < {{ var('credit_tier_a_on_time_rate') }} then 'B'
            else 'A'
        end as credit_tier
    from measured
),

strategies (credit_tier, credit_tier_cn, tier_sort, collection_strategy) as (
    values
        ('A', 'A 优质', 1, '常规管理：到期前 3 天发送账单提醒；可给予标准信用期，续约时可作为优惠对象。'),
        ('B', 'B 良好', 2, '到期当日提醒，逾期 7 天内由负责会计电话跟进；按月对账。'),
        ('C', 'C 关注', 3, '到期前后双提醒，逾期即电话催收并发书面催款函；新合同改为按季预付，暂停非紧急增值服务。'),
        ('D', 'D 高风险', 4, '主管亲自催收并约定还款计划；先款后服务，暂停新服务；逾期超 180 天评估坏账核销或法律途径。'),
        ('N', 'N 暂无记录', 5, '近 12 个月无到期账单：按标准流程提醒，首次逾期即跟进并据实评级。')
),

final as (
    select
        t.client_id,
        c.client_name,
        c.industry,
        c.industry_cn,
        c.accountant_id,
        c.accountant_name,
        c.team,
        c.status_as_of_cn as client_status_cn,
        cast(t.invoices_due_12m as integer) as invoices_due_12m,
        cast(t.paid_on_time_12m as integer) as paid_on_time_12m,
        cast(t.on_time_rate_12m as double) as on_time_rate_12m,
        cast(t.paid_late_12m as integer) as paid_late_12m,
        cast(t.late_share_12m as double) as late_share_12m,
        cast(round(t.avg_days_late_12m, 1) as double) as avg_days_late_12m,
        cast(t.open_receivable_amount as decimal(18, 2)) as open_receivable_amount,
        cast(t.overdue_amount as decimal(18, 2)) as overdue_amount,
        cast(t.max_days_past_due as integer) as max_days_past_due,
        t.credit_tier,
        s.credit_tier_cn,
        cast(s.tier_sort as integer) as tier_sort,
        s.collection_strategy
    from tiered as t
    inner join strategies as s on s.credit_tier = t.credit_tier
    inner join {{ ref('dim_clients') }} as c on c.client_id = t.client_id
)

select * from final
