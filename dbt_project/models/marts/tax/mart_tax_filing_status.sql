-- Each client × service period's tax_filing task judged against its deadline (int_tax_filing_status,
-- which the filing alert reads too), with the status in Chinese. Incremental by service period as
-- int_tax_filing_status (macros/period_fingerprints.sql): only the changed periods are rebuilt.
-- depends_on: {{ ref('int_tax_filing_period_fingerprints') }}
with filings as (
    select * from {{ ref('int_tax_filing_status') }}
    {{ rebuilt_periods_filter('int_tax_filing_period_fingerprints', 'period', 'period') }}
),

final as (
    select
        filing_key,
        client_id,
        client_name,
        period,
        filing_period,
        deadline,
        deadline_source,
        task_id,
        assignee_id,
        assignee_name,
        status_as_of,
        status_as_of_cn,
        completed_at,
        completed_date,
        working_days_left,
        filing_status,
        case filing_status
            when 'filed_on_time' then '按期申报'
            when 'filed_late' then '逾期申报'
            when 'overdue' then '逾期未申报'
            when 'at_risk' then '临期风险'
            when 'in_progress' then '办理中'
            when 'not_started' then '未开始'
        end as filing_status_cn
    from filings
)

select * from final
