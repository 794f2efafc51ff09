-- Every alert that holds on as_of_date, one row per (alert_type, entity), ranked by what to do today.
-- alert_id hashes type and entity key only, so the same alert keeps its id night after night; an
-- alert whose condition no longer holds simply is not here (mart_alert_history closes it).
-- Each rule also states what is at stake (amount_at_stake), how urgent it is (urgency_days: days past
-- due / since received, or minus the days left before a deadline), the client's status and whether
-- the situation is worsening; priority_score combines them (doc metric_alert_priority) and sets the
-- severity. Money items older than alert_writeoff_age_days go to the 坏账核销候选 list instead.
-- Source-settled invoices, churned clients with nothing open, and unidentified receipts that match an
-- open invoice (reported once as 疑似对应账单) raise nothing of their own. Thresholds are dbt vars.
-- Reads core and intermediate only (never a mart): the report-level rules it shares with the marts
-- (renewal segments, filing status, saturation, the published backtest) are int_ models both read.
-- Each rule below states only what differs per type; what a type always is (its entity, its weight,
-- whether it has a deadline, whether it is money) is one row of alert_types.
with alert_types (alert_type, entity_type, type_weight, is_deadline, is_money_item) as (
    values
        ('invoice_overdue', 'invoice', 10, false, true),
        ('chronic_late_payer', 'client', 10, false, false),
        ('contract_expiring_low_renewal', 'contract', 20, true, false),
        ('renewal_churn_risk', 'contract', 15, true, false),
        ('collection_forecast_deviation', 'period', 10, false, false),
        ('document_collection_late', 'task', 15, true, false),
        ('filing_at_risk', 'task', 30, true, false),
        ('task_overdue', 'task', 15, true, false),
        ('task_blocked', 'task', 10, true, false),
        ('staff_saturation', 'staff', 15, false, false),
        ('unidentified_receipt', 'payment', 10, false, true),
        ('receipt_invoice_match', 'payment', 20, false, true)
),

clients as (
    select client_id, client_name, accountant_id, status_as_of from {{ ref('dim_clients') }}
),

tasks as (
    -- the tasks a rule below can fire on (open, or overdue), with their client's name; a blocked task's
    -- upstream is looked up in fct_tasks itself. (All 9 M tasks of a 100,000-client firm in this CTE,
    -- read five times and joined twice, were two thirds of this model's time.) An overdue task is open
    -- (fct_tasks: is_overdue = is_open and past due), so the filter is is_open alone: a single-column
    -- filter DuckDB applies in the scan, reading the other columns of the ~8,000 open tasks only (an OR
    -- of two columns read all columns of all 9 M tasks first).
    select t.*, c.client_name
    from {{ ref('fct_tasks') }} as t
    left join clients as c on c.client_id = t.client_id
    where t.is_open
),

blocked_upstream as (
    -- the upstream tasks of the open blocked tasks, read from fct_tasks by a semi join (a join on
    -- depends_on_task_id built its hash table from all 9 M tasks)
    select u.task_id, u.stage_cn, u.assignee_name, u.due_date
    from {{ ref('fct_tasks') }} as u
    where u.task_id in (select b.depends_on_task_id from tasks as b where b.is_open and b.is_upstream_unfinished)
),

matches as (
    select * from {{ ref('int_receipt_invoice_matches') }}
),

-- open receivables the source does not already mark settled
receivables as (
    select
        i.*,
        count(*) filter (where i.days_past_due > 0) over (partition by i.client_id) as client_overdue_invoices
    from {{ ref('fct_invoices') }} as i
    where i.open_receivable_amount > 0
      and i.source_status <> 'paid'
),

client_open as (
    select
        client_id,
        sum(open_receivable_amount) as open_amount,
        sum(open_receivable_amount) filter (where days_past_due > 0) as overdue_amount,
        max(days_past_due) as max_days_past_due
    from receivables
    group by client_id
),

invoice_overdue as (
    select
        'invoice_overdue' as alert_type,
        i.invoice_id as entity_id,
        '账单 ' || i.invoice_id as entity_name,
        i.client_id,
        c.accountant_id as staff_id,
        i.due_date as reference_date,
        '客户「' || c.client_name || '」账单 ' || i.invoice_id || ' 已逾期 ' as message_before,
        i.days_past_due as message_days,
        ' 天，未收金额 ¥' || format('{:,.2f}', i.open_receivable_amount) as message_after,
        i.due_date as message_days_since,
        i.open_receivable_amount::double as amount_at_stake,
        i.days_past_due as urgency_days,
        i.client_overdue_invoices > 1 as is_worsening
    from receivables as i
    inner join clients as c on c.client_id = i.client_id
    where i.days_past_due >= {{ var('alert_invoice_overdue_days') }}
      and i.invoice_id not in (select mt.invoice_id from matches as mt)
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
        l.client_id as entity_id,
        c.client_name as entity_name,
        l.client_id,
        c.accountant_id as staff_id,
        l.last_due_date as reference_date,
        '客户「' || c.client_name || '」近12个月 ' || l.invoices_due || ' 张到期账单中 ' || l.invoices_late
            || ' 张逾期超过 ' || {{ var('alert_late_payer_grace_days') }} || ' 天付款，为长期拖欠客户' as message,
        coalesce(o.overdue_amount, 0)::double as amount_at_stake,
        coalesce(o.max_days_past_due, 0) as urgency_days,
        1.0 * l.invoices_late / l.invoices_due >= 0.8 as is_worsening
    from late_payers as l
    inner join clients as c on c.client_id = l.client_id
    left join client_open as o on o.client_id = l.client_id
    where l.invoices_due >= {{ var('alert_late_payer_min_invoices') }}
      and 1.0 * l.invoices_late / l.invoices_due >= {{ var('alert_late_payer_share') }}
      -- a churned client who owes nothing is history, not an action
      and not (c.status_as_of = 'churned' and coalesce(o.open_amount, 0) = 0)
),

contract_expiring as (
    select
        'contract_expiring_low_renewal' as alert_type,
        r.contract_id as entity_id,
        '合同 ' || r.contract_id as entity_name,
        r.client_id,
        coalesce(r.sales_id, r.accountant_id) as staff_id,
        r.end_date as reference_date,
        '客户「' || r.client_name || '」合同 ' || r.contract_id || ' 将于 ' || strftime(r.end_date, '%Y-%m-%d')
            || ' 到期（剩 ' as message_before,
        r.days_to_end as message_days,
        ' 天），续约概率仅 ' || printf('%.0f', 100 * r.renewal_probability) || '%' as message_after,
        r.end_date as message_days_until,
        r.annualized_value::double as amount_at_stake,
        -r.days_to_end as urgency_days,
        r.renewal_probability < 0.3 as is_worsening
    from {{ ref('int_renewal_scores') }} as r
    where not r.is_renewed
      and r.days_to_end <= {{ var('alert_contract_expiring_days') }}
      and r.renewal_probability < {{ var('renewal_low_probability') }}
),

churn_risk as (
    select
        'renewal_churn_risk' as alert_type,
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
            || '，最长逾期 ' as message_before,
        r.max_days_past_due as message_days,
        ' 天）' as message_after,
        r.oldest_open_due_date as message_days_since,
        k.annualized_value::double as amount_at_stake,
        -datediff('day', {{ as_of() }}, r.end_date) as urgency_days,
        r.complaints > 0 as is_worsening
    from {{ ref('int_alerts_churn_risk') }} as r
    inner join clients as c on c.client_id = r.client_id
    left join {{ ref('dim_contracts') }} as k on k.contract_id = r.contract_id
    -- one alert per contract: an expiring low-probability contract is already alerted above
    where r.contract_id not in (select e.entity_id from contract_expiring as e)
),

forecast_deviation as (
    select
        'collection_forecast_deviation' as alert_type,
        b.period as entity_id,
        b.period || ' 回款' as entity_name,
        null::varchar as client_id,
        null::varchar as staff_id,
        (b.cutoff_date + 1) as reference_date,
        b.period || ' 实际回款 ¥' || format('{:,.2f}', b.actual_amount) || ' 与预测 ¥'
            || format('{:,.2f}', b.forecast_amount) || ' 偏差 ' || printf('%.1f', 100 * b.abs_pct_error)
            || '%，超过阈值' as message,
        abs(b.actual_amount - b.forecast_amount)::double as amount_at_stake,
        0 as urgency_days,
        b.abs_pct_error > 2 * {{ var('forecast_deviation_threshold') }} as is_worsening
    from {{ ref('int_forecast_published_backtest') }} as b
    where b.is_latest_month and b.is_deviation
),

-- the three task rules: one row per (rule, task) with what the rule says; the task's entity columns
-- are added once in task_alerts
task_rules as (
    select
        'document_collection_late' as alert_type,
        t.task_id,
        '客户「' || t.client_name || '」' || coalesce(t.period || ' ', '') || '票据采集已超期 ' as message_before,
        ({{ as_of() }} - t.due_date) as message_days,
        ' 天未完成' as message_after,
        t.due_date as message_days_since,
        datediff('day', t.due_date, {{ as_of() }}) as urgency_days,
        datediff('day', t.due_date, {{ as_of() }}) >= 7 as is_worsening
    from tasks as t
    where t.stage = 'document_collection'
      and t.is_open
      and {{ as_of() }} - t.due_date >= {{ var('alert_document_late_days') }}

    union all

    select
        'task_overdue' as alert_type,
        t.task_id,
        '客户「' || t.client_name || '」' || t.stage_cn || '任务 ' || t.task_id || ' 已逾期 ' as message_before,
        t.days_late as message_days,
        ' 天' as message_after,
        t.due_date as message_days_since,
        t.days_late as urgency_days,
        t.days_late > 7 as is_worsening
    from tasks as t
    -- document collection and tax filing have their own alert types
    where t.is_overdue and t.stage not in ('document_collection', 'tax_filing')

    union all

    select
        'task_blocked' as alert_type,
        t.task_id,
        '客户「' || t.client_name || '」' || t.stage_cn || '任务 ' || t.task_id || ' 被上游任务 ' || u.task_id
            || '（' || u.stage_cn || '，' || u.assignee_name || '）阻塞，上游已逾期 ' as message_before,
        ({{ as_of() }} - u.due_date) as message_days,
        ' 天' as message_after,
        u.due_date as message_days_since,
        datediff('day', t.due_date, {{ as_of() }}) as urgency_days,
        t.due_date <= {{ as_of() }} as is_worsening
    from tasks as t
    inner join blocked_upstream as u on u.task_id = t.depends_on_task_id
    where t.is_open and t.is_upstream_unfinished and u.due_date < {{ as_of() }}
),

task_alerts as (
    select
        r.alert_type,
        t.task_id as entity_id,
        t.stage_cn || ' ' || coalesce(t.period, '') as entity_name,
        t.client_id,
        t.assignee_id as staff_id,
        t.due_date as reference_date,
        r.message_before,
        r.message_days,
        r.message_after,
        r.message_days_since,
        0.0 as amount_at_stake,
        r.urgency_days,
        r.is_worsening
    from task_rules as r
    inner join tasks as t on t.task_id = r.task_id
),

filing_at_risk as (
    select
        'filing_at_risk' as alert_type,
        f.task_id as entity_id,
        '报税 ' || f.period as entity_name,
        f.client_id,
        f.assignee_id as staff_id,
        f.deadline as reference_date,
        '客户「' || f.client_name || '」' || f.period || ' 申报'
            || case when f.filing_status = 'overdue' then '已过申报截止日 ' || strftime(f.deadline, '%Y-%m-%d') || ' 仍未完成'
                    else '距截止日 ' || strftime(f.deadline, '%Y-%m-%d') || ' 仅剩 ' || f.working_days_left
                         || ' 个工作日，尚未完成' end as message,
        0.0 as amount_at_stake,
        datediff('day', f.deadline, {{ as_of() }}) as urgency_days,
        f.filing_status = 'overdue' as is_worsening
    from {{ ref('int_tax_filing_status') }} as f
    where f.filing_status in ('at_risk', 'overdue')
),

staff_saturation as (
    select
        'staff_saturation' as alert_type,
        s.staff_id as entity_id,
        s.staff_name as entity_name,
        null::varchar as client_id,
        s.staff_id,
        date_trunc('month', {{ as_of() }})::date as reference_date,
        s.staff_name || ' 本月负责 ' || s.client_load || ' 户，产能 ' || s.monthly_capacity || ' 户，负荷 '
            || printf('%.0f', 100 * s.load_ratio) || '%' as message,
        0.0 as amount_at_stake,
        0 as urgency_days,
        s.load_ratio >= 1.2 as is_worsening
    from {{ ref('int_alerts_staff_saturation') }} as s
),

unidentified as (
    select
        'unidentified_receipt' as alert_type,
        p.payment_id as entity_id,
        '收款 ' || p.payment_id as entity_name,
        null::varchar as client_id,
        null::varchar as staff_id,
        p.paid_date as reference_date,
        strftime(p.paid_date, '%Y-%m-%d') || ' 收到 ' || coalesce(p.payer_name, '未知付款方') || ' 款项 ¥'
            || format('{:,.2f}', p.amount) || '，无法识别客户' as message,
        p.amount::double as amount_at_stake,
        datediff('day', p.paid_date, {{ as_of() }}) as urgency_days,
        false as is_worsening
    from {{ ref('fct_payments') }} as p
    where not p.is_identified
      and p.payment_id not in (select mt.payment_id from matches as mt)
),

receipt_match as (
    select
        'receipt_invoice_match' as alert_type,
        m.payment_id as entity_id,
        '收款 ' || m.payment_id || ' ↔ 账单 ' || m.invoice_id as entity_name,
        m.client_id,
        c.accountant_id as staff_id,
        m.paid_date as reference_date,
        strftime(m.paid_date, '%Y-%m-%d') || ' 收到「' || coalesce(m.payer_name, '未知付款方') || '」¥'
            || format('{:,.2f}', m.amount) || '，疑似对应客户「' || m.client_name || '」账单 ' || m.invoice_id
            || '（' || strftime(m.issue_date, '%Y-%m-%d') || ' 开具，未收 ¥' || format('{:,.2f}', m.amount)
            || '）：请核对后确认入账' as message,
        m.amount::double as amount_at_stake,
        datediff('day', m.paid_date, {{ as_of() }}) as urgency_days,
        false as is_worsening
    from matches as m
    inner join clients as c on c.client_id = m.client_id
),

-- by name: a rule whose message holds a day count that moves with the as-of date gives the message as
-- the text before the number, the number (message_days) and the text after, with the date the number
-- counts from (message_days_since: as_of - date) or to (message_days_until: date - as_of); the others
-- give their whole message. final joins the parts: the message is written in one place either way.
unioned as (
    select * from invoice_overdue
    union all by name select * from chronic_late_payer
    union all by name select * from contract_expiring
    union all by name select * from churn_risk
    union all by name select * from forecast_deviation
    union all by name select * from task_alerts
    union all by name select * from filing_at_risk
    union all by name select * from staff_saturation
    union all by name select * from unidentified
    union all by name select * from receipt_match
),

scored as (
    select
        u.*,
        w.entity_type,
        w.is_money_item and u.urgency_days > {{ var('alert_writeoff_age_days') }} as is_write_off_candidate,
        w.type_weight
        + 30 * least(1, sqrt(greatest(u.amount_at_stake, 0) / {{ var('alert_priority_amount_scale') }}))
        + case
            when w.is_deadline and u.urgency_days >= 0 then 25
            when w.is_deadline then 25 * greatest(0, 1 - (-u.urgency_days) / 30.0)
            else 25 * least(greatest(u.urgency_days, 0), 60) / 60.0
          end
        + case c.status_as_of when 'active' then 10 when 'churned' then 0 else 5 end
        + case when u.is_worsening then 10 else 0 end as priority_score
    from unioned as u
    inner join alert_types as w on w.alert_type = u.alert_type
    left join clients as c on c.client_id = u.client_id
),

final as (
    select
        md5(alert_type || '|' || entity_id) as alert_id,
        alert_type,
        case
            when is_write_off_candidate then 'low'
            when priority_score >= {{ var('alert_high_priority_score') }} then 'high'
            when priority_score >= {{ var('alert_medium_priority_score') }} then 'medium'
            else 'low'
        end as severity,
        entity_type,
        entity_id,
        entity_name,
        client_id,
        staff_id,
        reference_date,
        coalesce(message, message_before || message_days || message_after) as message,
        -- the message with its day count as {days} (NULL when it has none that moves with the as-of
        -- date), the count, and the date it counts from / to: pages fill the count in on the reader's
        -- side (docs/pages.md, day counts), so a page whose only change is the count is not rewritten
        case
            when message_days_since is not null or message_days_until is not null
                then message_before || '{days}' || message_after
        end as message_template,
        cast(message_days as integer) as message_days,
        message_days_since,
        message_days_until,
        cast(amount_at_stake as double) as amount_at_stake,
        cast(urgency_days as integer) as urgency_days,
        is_worsening,
        cast(round(priority_score, 1) as double) as priority_score,
        case when is_write_off_candidate then 'write_off_review' else 'action' end as alert_list
    from scored
)

select * from final
