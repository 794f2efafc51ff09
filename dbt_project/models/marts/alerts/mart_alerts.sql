-- 预警中心: one row per alert open on as_of_date, ranked by priority within its list (action /
-- write-off review), with labels, the responsible staff member and the
-- date the alert was first seen (its open episode in mart_alert_history).
with alerts as (
    select * from {{ ref('int_alerts_current') }}
),

episodes as (
    select alert_id, opened_date
    from {{ ref('mart_alert_history') }}
    where is_open
),

final as (
    select
        a.alert_id,
        a.alert_type,
        case a.alert_type
            when 'invoice_overdue' then '账单逾期'
            when 'chronic_late_payer' then '长期拖欠客户'
            when 'contract_expiring_low_renewal' then '合同到期且续约概率低'
            when 'renewal_churn_risk' then '续约流失风险'
            when 'collection_forecast_deviation' then '回款预测偏差'
            when 'document_collection_late' then '票据采集超期'
            when 'filing_at_risk' then '申报临期风险'
            when 'task_overdue' then '任务逾期'
            when 'task_blocked' then '任务被上游阻塞'
            when 'staff_saturation' then '员工负荷饱和'
            when 'unidentified_receipt' then '未识别收款'
            when 'receipt_invoice_match' then '疑似对应账单'
        end as alert_type_cn,
        a.severity,
        case a.severity when 'high' then '高' when 'medium' then '中' else '低' end as severity_cn,
        case a.severity when 'high' then 1 when 'medium' then 2 else 3 end as severity_rank,
        a.entity_type,
        a.entity_id,
        a.entity_name,
        a.client_id,
        c.client_name,
        a.staff_id,
        s.staff_name,
        a.reference_date,
        coalesce(e.opened_date, {{ as_of() }}) as first_seen_date,
        ({{ as_of() }} - coalesce(e.opened_date, {{ as_of() }}))::integer as days_open,
        a.message,
        a.message_template,
        a.message_days,
        a.message_days_since,
        a.message_days_until,
        a.amount_at_stake,
        a.urgency_days,
        a.is_worsening,
        a.priority_score,
        cast(row_number() over (partition by a.alert_list order by a.priority_score desc, a.alert_id) as integer)
            as priority_rank,
        a.alert_list,
        case a.alert_list when 'action' then '待处理预警' else '坏账核销候选' end as alert_list_cn
    from alerts as a
    left join episodes as e on e.alert_id = a.alert_id
    left join {{ ref('dim_clients') }} as c on c.client_id = a.client_id
    left join {{ ref('dim_staff') }} as s on s.staff_id = a.staff_id
)

select * from final
