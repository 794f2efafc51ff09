-- Every alert that holds on as_of_date, one row per (alert_type, entity). alert_id hashes type and
-- entity key only, so the same alert keeps its id night after night; an alert whose condition no
-- longer holds simply is not here (mart_alert_history closes it). Thresholds are dbt vars.
with clients as (
    select client_id, client_name, accountant_id from {{ ref('dim_clients') }}
),

tasks as (
    select t.*, c.client_name
    from {{ ref('fct_tasks') }} as t
    left join clients as c on c.client_id = t.client_id
),

invoice_overdue as (
    select
        'invoice_overdue' as alert_type,
        case when i.days_past_due >= 60 then 'high' when i.days_past_due >= 30 then 'medium' else 'low' end
            as severity,
        'invoice' as entity_type,
        i.invoice_id as entity_id,
        '账单 ' || i.invoice_id as entity_name,
        i.client_id,
        c.accountant_id as staff_id,
        i.due_date as reference_date,
        '客户「' || c.client_name || '」账单 ' || i.invoice_id || ' 已逾期 ' || i.days_past_due
            || ' 天，未收金额 ¥' || printf('%.2f', i.open_receivable_amount) as message
    from {{ ref('fct_invoices') }} as i
    inner join clients as c on c.client_id = i.client_id
    where i.open_receivable_amount > 0
      and i.days_past_due >= {{ var('alert_invoice_overdue_days') }}
),

late_payers as (
    select
        i.client_id,
        count(*) as invoices_due,
        count(*) filter (
            where (i.is_fully_paid and i.fully_paid_date > i.due_date + {{ var('alert_late_payer_grace_days') }})
               or i.days_past_due > {{ var('alert_late_payer_grace_days') }}
        ) as invoices_late,
        max(i.due_date) as last_due_date
    from {{ ref('fct_invoices') }} as i
    where not i.is_void
      and i.due_date <= {{ as_of() }}
      and i.due_date > {{ as_of() }} - 365
    group by i.client_id
),

chronic_late_payer as (
    select
        'chronic_late_payer' as alert_type,
        case when 1.0 * l.invoices_late / l.invoices_due >= 0.8 then 'high' else 'medium' end as severity,
        'client' as entity_type,
        l.client_id as entity_id,
        c.client_name as entity_name,
        l.client_id,
        c.accountant_id as staff_id,
        l.last_due_date as reference_date,
        '客户「' || c.client_name || '」近12个月 ' || l.invoices_due || ' 张到期账单中 ' || l.invoices_late
            || ' 张逾期超过 ' || {{ var('alert_late_payer_grace_days') }} || ' 天付款，为长期拖欠客户' as message
    from late_payers as l
    inner join clients as c on c.client_id = l.client_id
    where l.invoices_due >= {{ var('alert_late_payer_min_invoices') }}
      and 1.0 * l.invoices_late / l.invoices_due >= {{ var('alert_late_payer_share') }}
),

contract_expiring as (
    select
        'contract_expiring_low_renewal' as alert_type,
        case when r.days_to_end <= 30 then 'high' else 'medium' end as severity,
        'contract' as entity_type,
        r.contract_id as entity_id,
        '合同 ' || r.contract_id as entity_name,
        r.client_id,
        coalesce(r.sales_id, r.accountant_id) as staff_id,
        r.end_date as reference_date,
        '客户「' || r.client_name || '」合同 ' || r.contract_id || ' 将于 ' || strftime(r.end_date, '%Y-%m-%d')
            || ' 到期（剩 ' || r.days_to_end || ' 天），续约概率仅 '
            || printf('%.0f', 100 * r.renewal_probability) || '%' as message
    from {{ ref('mart_renewal_scores') }} as r
    where not r.is_renewed
      and r.days_to_end <= {{ var('alert_contract_expiring_days') }}
      and r.renewal_probability < {{ var('renewal_low_probability') }}
),

churn_risk as (
    select
        'renewal_churn_risk' as alert_type,
        case when r.end_date - {{ as_of() }} <= 30 then 'high' else 'medium' end as severity,
        'contract' as entity_type,
        r.contract_id as entity_id,
        '合同 ' || r.contract_id as entity_name,
        r.client_id,
        c.accountant_id as staff_id,
        r.end_date as reference_date,
        '客户「' || c.client_name || '」合同 ' || r.contract_id || ' 将于 ' || strftime(r.end_date, '%Y-%m-%d')
            || ' 到期，存在流失风险（'
            || coalesce('续约概率 ' || printf('%.0f', 100 * r.renewal_probability) || '%，', '')
            || '近12个月投诉 ' || r.complaints || ' 次'
            || coalesce('，平均满意度 ' || printf('%.1f', r.avg_score), '')
            || '，最长逾期 ' || r.max_days_past_due || ' 天）' as message
    from {{ ref('int_alerts_churn_risk') }} as r
    inner join clients as c on c.client_id = r.client_id
    -- one alert per contract: an expiring low-probability contract is already alerted above
    where r.contract_id not in (select entity_id from contract_expiring)
),

forecast_deviation as (
    select
        'collection_forecast_deviation' as alert_type,
        case when b.abs_pct_error > 2 * {{ var('forecast_deviation_threshold') }} then 'high' else 'medium' end
            as severity,
        'period' as entity_type,
        b.period as entity_id,
        b.period || ' 回款' as entity_name,
        null::varchar as client_id,
        null::varchar as staff_id,
        (b.cutoff_date + 1) as reference_date,
        b.period || ' 实际回款 ¥' || printf('%.2f', b.actual_amount) || ' 与预测 ¥'
            || printf('%.2f', b.forecast_amount) || ' 偏差 ' || printf('%.1f', 100 * b.abs_pct_error)
            || '%，超过阈值' as message
    from {{ ref('mart_forecast_backtest') }} as b
    where b.is_latest_month and b.is_deviation
),

document_late as (
    select
        'document_collection_late' as alert_type,
        case when {{ as_of() }} - t.due_date >= 7 then 'high' else 'medium' end as severity,
        'task' as entity_type,
        t.task_id as entity_id,
        t.stage_cn || ' ' || coalesce(t.period, '') as entity_name,
        t.client_id,
        t.assignee_id as staff_id,
        t.due_date as reference_date,
        '客户「' || t.client_name || '」' || coalesce(t.period || ' ', '') || '票据采集已超期 '
            || ({{ as_of() }} - t.due_date) || ' 天未完成' as message
    from tasks as t
    where t.stage = 'document_collection'
      and t.is_open
      and {{ as_of() }} - t.due_date >= {{ var('alert_document_late_days') }}
),

filing_at_risk as (
    select
        'filing_at_risk' as alert_type,
        case when f.filing_status = 'overdue' or f.working_days_left <= 1 then 'high' else 'medium' end
            as severity,
        'task' as entity_type,
        f.task_id as entity_id,
        '报税 ' || f.period as entity_name,
        f.client_id,
        f.assignee_id as staff_id,
        f.deadline as reference_date,
        '客户「' || f.client_name || '」' || f.period || ' 申报'
            || case when f.filing_status = 'overdue' then '已过申报截止日 ' || strftime(f.deadline, '%Y-%m-%d') || ' 仍未完成'
                    else '距截止日 ' || strftime(f.deadline, '%Y-%m-%d') || ' 仅剩 ' || f.working_days_left
                         || ' 个工作日，尚未完成' end as message
    from {{ ref('mart_tax_filing_status') }} as f
    where f.filing_status in ('at_risk', 'overdue')
),

task_overdue as (
    select
        'task_overdue' as alert_type,
        case when t.days_late > 7 then 'high' when t.days_late > 2 then 'medium' else 'low' end as severity,
        'task' as entity_type,
        t.task_id as entity_id,
        t.stage_cn || ' ' || coalesce(t.period, '') as entity_name,
        t.client_id,
        t.assignee_id as staff_id,
        t.due_date as reference_date,
        '客户「' || t.client_name || '」' || t.stage_cn || '任务 ' || t.task_id || ' 已逾期 ' || t.days_late
            || ' 天' as message
    from tasks as t
    -- document collection and tax filing have their own alert types
    where t.is_overdue and t.stage not in ('document_collection', 'tax_filing')
),

task_blocked as (
    select
        'task_blocked' as alert_type,
        case when t.due_date <= {{ as_of() }} then 'high' else 'medium' end as severity,
        'task' as entity_type,
        t.task_id as entity_id,
        t.stage_cn || ' ' || coalesce(t.period, '') as entity_name,
        t.client_id,
        t.assignee_id as staff_id,
        t.due_date as reference_date,
        '客户「' || t.client_name || '」' || t.stage_cn || '任务 ' || t.task_id || ' 被上游任务 ' || u.task_id
            || '（' || u.stage_cn || '，' || u.assignee_name || '）阻塞，上游已逾期 '
            || ({{ as_of() }} - u.due_date) || ' 天' as message
    from tasks as t
    inner join tasks as u on u.task_id = t.depends_on_task_id
    where t.is_open and t.is_upstream_unfinished and u.due_date < {{ as_of() }}
),

staff_saturation as (
    select
        'staff_saturation' as alert_type,
        case when s.load_ratio >= 1.2 then 'high' else 'medium' end as severity,
        'staff' as entity_type,
        s.staff_id as entity_id,
        s.staff_name as entity_name,
        null::varchar as client_id,
        s.staff_id,
        date_trunc('month', {{ as_of() }})::date as reference_date,
        s.staff_name || ' 本月负责 ' || s.client_load || ' 户，产能 ' || s.monthly_capacity || ' 户，负荷 '
            || printf('%.0f', 100 * s.load_ratio) || '%' as message
    from {{ ref('int_alerts_staff_saturation') }} as s
),

unidentified as (
    select
        'unidentified_receipt' as alert_type,
        case when {{ as_of() }} - p.paid_date > 7 then 'high' else 'medium' end as severity,
        'payment' as entity_type,
        p.payment_id as entity_id,
        '收款 ' || p.payment_id as entity_name,
        null::varchar as client_id,
        null::varchar as staff_id,
        p.paid_date as reference_date,
        strftime(p.paid_date, '%Y-%m-%d') || ' 收到 ' || coalesce(p.payer_name, '未知付款方') || ' 款项 ¥'
            || printf('%.2f', p.amount) || '，无法识别客户' as message
    from {{ ref('fct_payments') }} as p
    where not p.is_identified
),

unioned as (
    select * from invoice_overdue
    union all select * from chronic_late_payer
    union all select * from contract_expiring
    union all select * from churn_risk
    union all select * from forecast_deviation
    union all select * from document_late
    union all select * from filing_at_risk
    union all select * from task_overdue
    union all select * from task_blocked
    union all select * from staff_saturation
    union all select * from unidentified
),

final as (
    select
        md5(alert_type || '|' || entity_id) as alert_id,
        *
    from unioned
)

select * from final
