-- 回款风险客户: per client with money in play (open receivables, collections in the last 6 complete
-- months, or collections the model expects in the next 3 months), whether its expected payments are
-- late (open receivables more than var forecast_client_late_days days past due) or shrinking (the
-- model's next 3 months, or the last 3 complete months, below (1 − var forecast_client_shrink_share)
-- × the 3 complete months before them). Doc metric_forecast_client_risk.
{%- set shrink = 1 - var('forecast_client_shrink_share') %}
with as_of as (
    select
        {{ as_of() }} as as_of_date,
        (date_trunc('month', {{ as_of() }} + 1) - interval 1 month)::date as last_complete_month
),

-- the components are DOUBLE shares of amounts: their sum differs in the last bits from run to run
-- (parallel aggregation order), so it is rounded to the cent before any threshold compares it
expected as (
    select client_id, round(sum(amount), 2) as expected_next_3m
    from {{ ref('int_forecast_components') }}
    where cutoff_date = {{ as_of() }} and h between 1 and 3 and client_id is not null
    group by client_id
),

collected as (
    select
        p.client_id,
        sum(p.applied_amount) filter (
            where date_trunc('month', p.applied_date) > a.last_complete_month - interval 3 month
        ) as collected_last_3m,
        sum(p.applied_amount) filter (
            where date_trunc('month', p.applied_date) <= a.last_complete_month - interval 3 month
        ) as collected_prior_3m
    from {{ ref('fct_payment_applications') }} as p
    cross join as_of as a
    where date_trunc('month', p.applied_date) > a.last_complete_month - interval 6 month
      and date_trunc('month', p.applied_date) <= a.last_complete_month
    group by p.client_id
),

receivables as (
    select
        client_id,
        sum(open_receivable_amount) as open_amount,
        sum(open_receivable_amount) filter (where days_past_due > {{ var('forecast_client_late_days') }})
            as late_amount,
        max(days_past_due) filter (where open_receivable_amount > 0) as max_days_past_due
    from {{ ref('fct_invoices') }}
    where open_receivable_amount > 0
    group by client_id
),

clients as (
    select client_id from expected
    union
    select client_id from collected
    union
    select client_id from receivables
),

measured as (
    select
        c.client_id,
        coalesce(e.expected_next_3m, 0) as expected_next_3m,
        coalesce(k.collected_last_3m, 0) as collected_last_3m,
        coalesce(k.collected_prior_3m, 0) as collected_prior_3m,
        coalesce(r.open_amount, 0) as open_amount,
        coalesce(r.late_amount, 0) as late_amount,
        greatest(r.max_days_past_due, 0) as max_days_past_due
    from clients as c
    left join expected as e on e.client_id = c.client_id
    left join collected as k on k.client_id = c.client_id
    left join receivables as r on r.client_id = c.client_id
),

flagged as (
    select
        *,
        late_amount > 0 as is_late,
        collected_last_3m > 0 and expected_next_3m < {{ shrink }} * collected_last_3m as is_expected_shrinking,
        collected_prior_3m > 0 and collected_last_3m < {{ shrink }} * collected_prior_3m as is_collections_shrinking
    from measured
),

final as (
    select
        f.client_id,
        d.client_name,
        d.industry,
        d.industry_cn,
        d.accountant_id,
        d.accountant_name,
        cast(round(f.expected_next_3m, 2) as double) as expected_next_3m,
        cast(round(f.collected_last_3m, 2) as double) as collected_last_3m,
        cast(round(f.collected_prior_3m, 2) as double) as collected_prior_3m,
        cast(round(f.open_amount, 2) as double) as open_amount,
        cast(round(f.late_amount, 2) as double) as late_amount,
        cast(f.max_days_past_due as integer) as max_days_past_due,
        f.is_late,
        f.is_expected_shrinking,
        f.is_collections_shrinking,
        f.is_late or f.is_expected_shrinking or f.is_collections_shrinking as is_at_risk,
        concat_ws('；',
            case when f.is_late then '逾期超过 {{ var("forecast_client_late_days") }} 天未付' end,
            case when f.is_expected_shrinking then '预计回款较近3个月下降' end,
            case when f.is_collections_shrinking then '近3个月回款较前3个月下降' end
        ) as risk_reason_cn,
        -- money in question: the late amount plus the expected shortfall against the last 3 months
        cast(round(f.late_amount + greatest(0, f.collected_last_3m - f.expected_next_3m), 2) as double) as amount_at_risk
    from flagged as f
    left join {{ ref('dim_clients') }} as d on d.client_id = f.client_id
)

select * from final
