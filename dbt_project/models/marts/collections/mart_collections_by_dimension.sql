-- 收款分析（单一维度汇总）: mart_collections_by_period rolled up to one dimension at a time —
-- industry, taxpayer type, service type, team, and taxpayer type × service type — per month, per
-- quarter and over the trailing 12 full months (months after as_of − 12 months, up to the last full
-- month), so pages select a roll-up instead of summing the finest grain. Rates are recomputed from
-- their summed numerators and denominators by the collection_metrics macros (docs metric_collection_rate,
-- metric_invoice_on_time_rate, metric_avg_days_to_pay), never averaged.
with by_period as (
    select * from {{ ref('mart_collections_by_period') }}
),

trailing_months as (
    -- the month rows of the trailing 12 full months, relabelled as one period
    select
        * replace ('trailing_12m' as period_grain, '近12个月' as period)
    from by_period
    where period_grain = 'month'
      and not is_partial_period
      and period_start >= cast(date_trunc('month', {{ as_of() }} + interval 1 day) - interval 12 month as date)
),

periods as (
    select * from by_period
    union all
    select * from trailing_months
),

rolled as (
    {%- set dims = [
        ('industry', 'industry', 'industry_cn'),
        ('taxpayer_type', 'taxpayer_type', 'taxpayer_type_cn'),
        ('service_type', 'service_type', 'service_type_cn'),
        ('taxpayer_service', "taxpayer_type || '|' || service_type", "taxpayer_type_cn || '·' || service_type_cn"),
    ] %}
    {%- for dim, key, label in dims %}
    select
        period_grain, period, min(period_start) as period_start, bool_or(is_partial_period) as is_partial_period,
        '{{ dim }}' as dimension_type,
        {{ key }} as dimension_value,
        {{ label }} as dimension_value_cn,
        {%- for measure in collection_additive_measures() %}
        sum({{ measure }}) as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
    from periods
    group by period_grain, period, {{ key }}, {{ label }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        period_grain || '|' || period || '|' || dimension_type || '|' || dimension_value as row_key,
        period_grain,
        period,
        period_start,
        is_partial_period,
        dimension_type,
        dimension_value,
        dimension_value_cn,
        {{ collection_measure_columns() }}
    from rolled
)

select * from final
