-- The dates the payment application rule is evaluated for: the run's as-of date, and every month
-- end of the backtest window before it. The collection forecast's backtest reads the applications
-- "as known at" each month end from here, so a later payment or write-off can never re-route money
-- received before that cutoff (the rule itself is stated once, in these intermediate models).
with params as (
    select {{ as_of() }} as as_of_date
),

month_ends as (
    -- month ends from the one before as_of_date's month back over the backtest window, plus a spare
    -- month so a month-end as-of date still has its 12 previous month ends
    select (date_trunc('month', p.as_of_date) - to_months(cast(k.i as integer)) - interval 1 day)::date
        as cutoff_date
    from params as p
    cross join range(0, {{ var('backtest_months') + 1 }}) as k(i)
),

final as (
    select as_of_date as cutoff_date, true as is_as_of_date from params
    union all
    select m.cutoff_date, false
    from month_ends as m
    cross join params as p
    where m.cutoff_date < p.as_of_date
)

select * from final
