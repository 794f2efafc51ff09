-- 预测方法对比: each collection-forecast method's backtest score (MAPE, WAPE, bias over the same
-- months and the same leak-free inputs) and which one the night publishes (doc
-- metric_forecast_methods).
with scores as (
    select * from {{ ref('int_forecast_method_scores') }}
),

final as (
    select
        method,
        {{ forecast_method_cn('method') }} as method_cn,
        is_naive,
        backtest_months,
        forecast_months,
        scored_months,
        mape,
        wape,
        bias,
        is_eligible,
        is_chosen,
        band_pct,
        rank() over (order by is_eligible desc, mape nulls last, priority) as method_rank
    from scores
)

select * from final
