-- Reliability table of the published renewal model: one row per decile of predicted probability on
-- the hold-out (mart_model_evaluation's calibration_* metrics pivoted).
with evaluation as (
    select * from {{ ref('mart_model_evaluation') }}
    where bin is not null
),

final as (
    select
        bin,
        any_value(model_name) as model_name,
        max(value) filter (where metric = 'calibration_mean_predicted') as mean_predicted,
        max(value) filter (where metric = 'calibration_observed_rate') as observed_rate,
        cast(max(value) filter (where metric = 'calibration_count') as integer) as contracts
    from evaluation
    group by bin
)

select * from final
