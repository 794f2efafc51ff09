-- 应收指标: firm-level DSO, CEI, average days delinquent and bad-debt rate at each of the last 24
-- month ends and at the as-of date. Balances are reconstructed at each date from dated facts
-- (issue dates, application dates), never from today's balances.
with dates as (
    select distinct month_end as measure_date
    from {{ ref('dim_date') }}
    where month_end < {{ as_of() }} and month_end >= {{ as_of() }} - interval 24 month
    union
    select {{ as_of() }}
),

invoices as (
    -- write-offs carry no date in the exports: a written-off invoice is left out of every
    -- reconstructed balance and counted in the bad-debt rate by its issue date instead
    select invoice_id, issue_date, due_date, amount, is_written_off
    from {{ ref('fct_invoices') }}
    where not is_void
),

applications_by_day as (
    -- money applied to the invoices in the balance (not void, not written off), summed per (day both
    -- the application and its invoice exist, due date) once, so each measure date reads a few
    -- thousand day rows instead of every application (DECIMAL sums: the same numbers)
    select
        greatest(a.applied_date, i.issue_date) as known_date,
        i.due_date,
        sum(a.applied_amount) as applied
    from {{ ref('fct_payment_applications') }} as a
    inner join invoices as i on i.invoice_id = a.invoice_id and not i.is_written_off
    where a.applied_date is not null  -- greatest() skips a NULL; such a row was never counted
    group by all
),

invoices_by_day as (
    select
        issue_date,
        due_date,
        is_written_off,
        sum(amount) as amount
    from invoices
    group by all
),

applied as (
    -- money applied by each date to the invoices in the balance, in total and to those not yet due;
    -- an application is dated on or after its invoice's issue date
    select
        d.measure_date,
        sum(a.applied) as applied,
        sum(a.applied) filter (where a.due_date >= d.measure_date) as applied_current
    from dates as d
    inner join applications_by_day as a on a.known_date <= d.measure_date
    group by d.measure_date
),

billed_live as (
    select
        d.measure_date,
        sum(i.amount) as billed,
        sum(i.amount) filter (where i.due_date >= d.measure_date) as billed_current
    from dates as d
    inner join invoices_by_day as i on i.issue_date <= d.measure_date and not i.is_written_off
    group by d.measure_date
),

balances as (
    -- per date, the sum over invoices of (amount - applied) taken as billed - applied: the same
    -- DECIMAL numbers without a (date, invoice) row each
    select
        b.measure_date,
        b.billed - coalesce(a.applied, 0) as ar_end,
        b.billed_current - coalesce(a.applied_current, 0) as current_ar_end
    from billed_live as b
    left join applied as a on a.measure_date = b.measure_date
),

billing as (
    select
        d.measure_date,
        sum(i.amount) filter (where i.issue_date > d.measure_date - 90) as billed_90d,
        sum(i.amount) filter (where i.issue_date > d.measure_date - interval 12 month) as billed_12m,
        sum(i.amount) filter (where i.issue_date > d.measure_date - interval 12 month and i.is_written_off)
            as written_off_12m
    from dates as d
    inner join invoices_by_day as i on i.issue_date <= d.measure_date
    group by d.measure_date
),

joined as (
    select
        d.measure_date,
        coalesce(b.ar_end, 0) as ar_end,
        coalesce(b.current_ar_end, 0) as current_ar_end,
        coalesce(g.billed_90d, 0) as billed_90d,
        coalesce(g.billed_12m, 0) as billed_12m,
        coalesce(g.written_off_12m, 0) as written_off_12m,
        lag(coalesce(b.ar_end, 0)) over (order by d.measure_date) as ar_begin,
        lag(d.measure_date) over (order by d.measure_date) as previous_date
    from dates as d
    left join balances as b on b.measure_date = d.measure_date
    left join billing as g on g.measure_date = d.measure_date
),

with_billed_in_period as (
    select
        j.*,
        (select coalesce(sum(i.amount), 0) from invoices_by_day as i
         where i.issue_date > j.previous_date and i.issue_date <= j.measure_date) as billed_in_period
    from joined as j
),

final as (
    select
        measure_date,
        strftime(measure_date, '%Y-%m') as period,
        measure_date = {{ as_of() }} as is_as_of_date,
        measure_date < last_day(measure_date) as is_partial_period,
        cast(ar_end as decimal(18, 2)) as ar_end,
        cast(round(ar_end / 10000, 2) as double) as ar_end_wan,
        cast(current_ar_end as decimal(18, 2)) as current_ar_end,
        cast(billed_90d as decimal(18, 2)) as billed_90d,
        cast(ar_end / nullif(billed_90d, 0) * 90 as double) as dso,
        cast(current_ar_end / nullif(billed_90d, 0) * 90 as double) as best_possible_dso,
        cast((ar_end - current_ar_end) / nullif(billed_90d, 0) * 90 as double) as avg_days_delinquent,
        cast(billed_in_period as decimal(18, 2)) as billed_in_period,
        cast((ar_begin + billed_in_period - ar_end)
             / nullif(ar_begin + billed_in_period - current_ar_end, 0) * 100 as double) as cei,
        cast(written_off_12m / nullif(billed_12m, 0) as double) as bad_debt_rate_12m
    from with_billed_in_period
)

select * from final
