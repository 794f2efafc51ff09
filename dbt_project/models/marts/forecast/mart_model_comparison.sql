-- Renewal-model comparison: one row per candidate (the model and its two baselines) with its hold-out
-- metrics side by side (mart_model_evaluation pivoted; the metrics are computed in
-- orchestration/models/renewal.py), and whether the calibration gap meets the target
-- (var renewal_calibration_target) and lies within the hold-out's sampling noise.
with evaluation as (
    select * from {{ ref('mart_model_evaluation') }}
    where bin is null
),

pivoted as (
    select
        model_name,
        any_value(model_name_cn) as model_name_cn,
        any_value(is_baseline) as is_baseline,
        any_value(as_of_date) as as_of_date,
        any_value(cutoff_date) as cutoff_date,
        coalesce(max(value) filter (where metric = 'is_published') = 1, false) as is_published,
        max(value) filter (where metric = 'auc') as auc,
        max(value) filter (where metric = 'brier') as brier,
        max(value) filter (where metric = 'mean_predicted') as mean_predicted,
        max(value) filter (where metric = 'observed_rate') as observed_rate,
        max(value) filter (where metric = 'calibration_gap') as calibration_gap,
        max(value) filter (where metric = 'observed_rate_ci95') as observed_rate_ci95,
        cast(max(value) filter (where metric = 'n_train') as integer) as n_train,
        cast(max(value) filter (where metric = 'n_test') as integer) as n_test
    from evaluation
    group by model_name
),

final as (
    select
        *,
        cast({{ var('renewal_calibration_target') }} as double) as calibration_target,
        abs(calibration_gap) <= {{ var('renewal_calibration_target') }} as meets_calibration_target,
        abs(calibration_gap) <= observed_rate_ci95 as gap_within_sampling_noise
    from pivoted
)

select * from final
