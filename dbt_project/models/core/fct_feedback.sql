-- Client feedback dated on or before the as-of date (optional entity: empty when not exported).
with feedback as (
    select * from {{ ref('stg_feedback') }}
    where feedback_date <= {{ as_of() }}
),

final as (
    select
        feedback_id,
        client_id,
        feedback_date,
        strftime(feedback_date, '%Y-%m') as period,
        score,
        coalesce(is_complaint, false) as is_complaint,
        category
    from feedback
)

select * from final
