-- A churn-risk row has a probability below the threshold (or, unscored, at least one signal); a high-value row none and a value at the threshold;
-- a potential row neither (doc metric_renewal_segment).
with u as (
    select
        *,
        case
            when renewal_probability is not null
                then renewal_probability < {{ var('renewal_churn_probability_below') }}
            else coalesce(satisfaction_score < {{ var('renewal_churn_satisfaction_below') }}, false)
                or complaint_count >= {{ var('renewal_churn_complaints_at_least') }}
                or coalesce(overdue_share > {{ var('renewal_churn_overdue_share_above') }}, false)
        end as has_churn_trigger
    from {{ ref('mart_renewals_upcoming') }}
)

select contract_id, segment
from u
where (segment = 'churn_risk' and not has_churn_trigger)
   or (segment = 'high_value' and (has_churn_trigger or annualized_value < high_value_threshold))
   or (segment = 'potential' and (has_churn_trigger or annualized_value >= high_value_threshold))
