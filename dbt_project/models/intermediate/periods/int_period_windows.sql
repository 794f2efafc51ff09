-- THE period semantics (doc period_semantics), defined once: one row per calendar month from the
-- first month with billing or cash (at least 25 months back) to the as-of month, with the window
-- the month covers as of the run date and the windows it is compared with.
--   current window   = month_start .. least(month_end, as_of); partial when it ends before month_end
--                      (本月至今: the as-of month unless as_of is its last day).
--   previous window  = the same number of days from the start of the previous month (capped at that
--                      month's end) for a partial month; the whole previous month for a full month.
--   last-year window = likewise from the start of the same month a year earlier.
-- Each window has a cutoff: the date its "collected so far" amounts are measured at. The current
-- window's cutoff is as_of; a comparison window's cutoff is its end plus the same number of days the
-- current window has aged (as_of − window end), so rates are compared at equal age.
with bounds as (
    select least(
        coalesce((select min(issue_date) from {{ ref('fct_invoices') }}), {{ as_of() }}),
        coalesce((select min(paid_date) from {{ ref('fct_payments') }}), {{ as_of() }}),
        cast(date_trunc('month', {{ as_of() }}) - interval 24 month as date)
    ) as first_day
),

months as (
    select cast(t.m as date) as month_start
    from bounds, range(
        date_trunc('month', bounds.first_day), date_trunc('month', {{ as_of() }}) + interval 1 day,
        interval 1 month
    ) as t(m)
),

windows as (
    select
        month_start,
        cast(month_start + interval 1 month - interval 1 day as date) as month_end,
        least(cast(month_start + interval 1 month - interval 1 day as date), {{ as_of() }}) as window_end,
        cast(month_start - interval 1 month as date) as prev_start,
        cast(month_start - interval 12 month as date) as ly_start
    from months
),

compared as (
    select
        *,
        window_end < month_end as is_partial_period,
        case when window_end < month_end
            then least(cast(prev_start + interval 1 month - interval 1 day as date),
                       cast(prev_start + to_days(datediff('day', month_start, window_end)) as date))
            else cast(prev_start + interval 1 month - interval 1 day as date)
        end as prev_end,
        case when window_end < month_end
            then least(cast(ly_start + interval 1 month - interval 1 day as date),
                       cast(ly_start + to_days(datediff('day', month_start, window_end)) as date))
            else cast(ly_start + interval 1 month - interval 1 day as date)
        end as ly_end
    from windows
),

final as (
    select
        strftime(month_start, '%Y-%m') as period,
        month_start,
        month_end,
        window_end as period_end,
        cast(datediff('day', month_start, window_end) + 1 as integer) as days_in_period,
        cast(datediff('day', month_start, month_end) + 1 as integer) as days_in_month,
        is_partial_period,
        strftime(month_start, '%Y-%m') || case when is_partial_period then '（本月至今）' else '' end
            as period_label,
        case when is_partial_period then '较上月同期' else '较上月' end as mom_label,
        case when is_partial_period then '较去年同期' else '较去年同月' end as yoy_label,
        {{ as_of() }} as cutoff_date,
        prev_start,
        prev_end,
        cast(prev_end + to_days(datediff('day', window_end, {{ as_of() }})) as date) as prev_cutoff_date,
        ly_start,
        ly_end,
        cast(ly_end + to_days(datediff('day', window_end, {{ as_of() }})) as date) as ly_cutoff_date
    from compared
)

select * from final
