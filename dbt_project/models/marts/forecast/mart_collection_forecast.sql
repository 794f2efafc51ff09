-- 回款预测: the night's forecast (ml.collection_forecast) with Chinese labels.
with forecast as (
    select * from {{ source('ml', 'collection_forecast') }}
    where as_of_date = {{ as_of() }}
),

labels as (
    select enum_name, code, label_cn from {{ ref('contract_enum_labels') }}
),

final as (
    select
        f.horizon || '|' || f.scope_type || '|' || f.scope_id as forecast_key,
        f.as_of_date,
        f.cutoff_date,
        f.horizon,
        case f.horizon
            when 'month_1' then '下月'
            when 'month_2' then '第2个月'
            when 'month_3' then '第3个月'
            when 'next_quarter' then '下季度'
        end as horizon_cn,
        f.period_start,
        f.period_end,
        f.scope_type,
        case f.scope_type when 'firm' then '全公司' when 'industry' then '行业' else '服务类型' end
            as scope_type_cn,
        f.scope_id,
        case when f.scope_type = 'firm' then '全公司' else coalesce(l.label_cn, f.scope_id) end as scope_name_cn,
        f.open_invoice_amount,
        f.scheduled_invoice_amount,
        coalesce(f.new_business_amount, 0) as new_business_amount,
        f.expected_amount,
        f.low_amount,
        f.high_amount,
        f.band_pct
    from forecast as f
    left join labels as l
        on l.enum_name = f.scope_type and l.code = f.scope_id
)

select * from final
