-- 申报状态汇总: clients per filing period × deadline × filing status, selected by the 征期日历 page
-- (counts of mart_tax_filing_status rows; the status rule lives there).
with filings as (
    select * from {{ ref('mart_tax_filing_status') }}
),

final as (
    select
        filing_period || '|' || strftime(deadline, '%Y-%m-%d') || '|' || filing_status as status_key,
        filing_period,
        deadline,
        filing_status,
        filing_status_cn,
        cast(count(*) as integer) as clients
    from filings
    group by filing_period, deadline, filing_status, filing_status_cn
)

select * from final
