-- A churn-risk row has a model probability below the threshold or at least one rule signal (the rules
-- apply whether or not the model scored it); a high-value row none and a value at the threshold; a
-- potential row neither (doc metric_renewal_segment). The action fits the days left: nothing
-- "60 天" / "30 天" ahead once fewer days remain, and the last two weeks say so.
with u as (
    select
        *,
        coalesce(renewal_probability < {{ var('renewal_churn_probability_below') }}, false)
            or coalesce(satisfaction_score < {{ var('renewal_churn_satisfaction_below') }}, false)
            or complaint_count >= {{ var('renewal_churn_complaints_at_least') }}
            or coalesce(overdue_share > {{ var('renewal_churn_overdue_share_above') }}, false)
            as has_churn_trigger
    from {{ ref('mart_renewals_upcoming') }}
)

select contract_id, segment
from u
where (segment = 'churn_risk' and not has_churn_trigger)
   or (segment = 'high_value' and (has_churn_trigger or annualized_value < high_value_threshold))
   or (segment = 'potential' and (has_churn_trigger or annualized_value >= high_value_threshold))
   or (days_to_end < 60 and recommended_action like '%前 60 天%')
   or (days_to_end < 30 and recommended_action like '%前 30 天%')
   or (days_to_end <= 14 and recommended_action not like '距到期仅剩%')
   or action_by_date > end_date
