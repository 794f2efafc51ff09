-- Renewal-model quality on the time-based hold-out, long format (one row per model × metric × bin).
with evaluation as (
    select * from {{ ref('renewal_model_evaluation') }}
    where as_of_date = {{ as_of() }}
),

final as (
    select
        model_name || '|' || metric || '|' || coalesce(cast(bin as varchar), '') as evaluation_key,
        as_of_date,
        cutoff_date,
        model_name,
        case model_name
            when 'logistic_regression_calibrated' then '逻辑回归（校准）'
            when 'logistic_regression' then '逻辑回归（未校准）'
            when 'constant_rate' then '常数基线'
            else model_name
        end as model_name_cn,
        model_name in ('constant_rate', 'logistic_regression') as is_baseline,
        metric,
        case metric
            when 'auc' then 'AUC'
            when 'brier' then 'Brier 分数'
            when 'n_test' then '验证样本数'
            when 'n_train' then '训练样本数'
            when 'observed_rate' then '实际续约率'
            when 'mean_predicted' then '平均预测概率'
            when 'calibration_gap' then '校准偏差（预测−实际）'
            when 'observed_rate_ci95' then '实际续约率抽样误差（95%）'
            when 'is_published' then '已采用'
            when 'train_positive_rate' then '训练集续约率'
            when 'calibration_mean_predicted' then '分组平均预测概率'
            when 'calibration_observed_rate' then '分组实际续约率'
            when 'calibration_count' then '分组样本数'
            else metric
        end as metric_cn,
        bin,
        value
    from evaluation
)

select * from final
