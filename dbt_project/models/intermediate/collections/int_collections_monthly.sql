-- THE monthly collections formulas (doc metric_collection_rate_monthly) at two scopes: the firm and
-- each team (the team of the client's responsible accountant, as of the run date; 未分配 without one).
-- Every month is measured over its window from int_period_windows and compared with the previous
-- month's and last year's comparable windows (same days for 本月至今, whole months otherwise), each
-- measured at its own cutoff, so nothing here compares 20 days with 31.
--   billed            = invoices (not void) issued in the window
--   billed_collected  = cash applied, by the window's cutoff, to the invoices issued in the window
--   collected         = cash applied to invoices (any issue date) with applied_date in the window
--   invoices_due      = invoices falling due in the window (and by its cutoff); on time = paid in full
--                       by the due date
--   received / unidentified = money received (paid_date) in the window / of it, not matched to a client
with windows as (
    select * from {{ ref('int_period_windows') }}
),

comparison_windows as (
    select period, 'current' as kind, month_start as window_start, period_end as window_end,
           cutoff_date from windows
    union all
    select period, 'prev' as kind, prev_start as window_start, prev_end as window_end,
           prev_cutoff_date as cutoff_date from windows
    union all
    select period, 'last_year' as kind, ly_start as window_start, ly_end as window_end,
           ly_cutoff_date as cutoff_date from windows
),

invoices as (
    select
        i.invoice_id, i.issue_date, i.due_date, i.amount, i.paid_on_time,
        coalesce(c.team, '未分配') as team
    from {{ ref('fct_invoices') }} as i
    inner join {{ ref('dim_clients') }} as c on c.client_id = i.client_id
    where not i.is_void
),

applications as (
    select a.applied_date, a.applied_amount, i.issue_date, i.team
    from {{ ref('fct_payment_applications') }} as a
    inner join invoices as i on i.invoice_id = a.invoice_id
),

payments as (
    select p.paid_date, p.amount, p.unidentified_amount, p.is_identified, c.team
    from {{ ref('fct_payments') }} as p
    left join {{ ref('dim_clients') }} as c on c.client_id = p.resolved_client_id
),

measures as (
    select w.period, w.kind, i.team,
           i.amount as billed_amount, 1 as invoices_billed, 0.00 as billed_collected_amount,
           0.00 as collected_amount, 0 as invoices_due, 0 as invoices_due_paid_on_time,
           0.00 as received_amount, 0.00 as unidentified_amount, 0 as unidentified_count
    from comparison_windows as w
    inner join invoices as i on i.issue_date between w.window_start and w.window_end
    union all
    select w.period, w.kind, a.team,
           0.00 as billed_amount, 0 as invoices_billed, a.applied_amount as billed_collected_amount,
           0.00 as collected_amount, 0 as invoices_due, 0 as invoices_due_paid_on_time,
           0.00 as received_amount, 0.00 as unidentified_amount, 0 as unidentified_count
    from comparison_windows as w
    inner join applications as a
        on a.issue_date between w.window_start and w.window_end and a.applied_date <= w.cutoff_date
    union all
    select w.period, w.kind, a.team,
           0.00 as billed_amount, 0 as invoices_billed, 0.00 as billed_collected_amount,
           a.applied_amount as collected_amount, 0 as invoices_due, 0 as invoices_due_paid_on_time,
           0.00 as received_amount, 0.00 as unidentified_amount, 0 as unidentified_count
    from comparison_windows as w
    inner join applications as a on a.applied_date between w.window_start and w.window_end
    union all
    select w.period, w.kind, i.team,
           0.00 as billed_amount, 0 as invoices_billed, 0.00 as billed_collected_amount,
           0.00 as collected_amount, 1 as invoices_due,
           case when i.paid_on_time then 1 else 0 end as invoices_due_paid_on_time,
           0.00 as received_amount, 0.00 as unidentified_amount, 0 as unidentified_count
    from comparison_windows as w
    inner join invoices as i
        on i.due_date between w.window_start and w.window_end and i.due_date <= w.cutoff_date
    union all
    select w.period, w.kind, p.team,
           0.00 as billed_amount, 0 as invoices_billed, 0.00 as billed_collected_amount,
           0.00 as collected_amount, 0 as invoices_due, 0 as invoices_due_paid_on_time,
           p.amount as received_amount, p.unidentified_amount as unidentified_amount,
           case when p.is_identified then 0 else 1 end as unidentified_count
    from comparison_windows as w
    inner join payments as p on p.paid_date between w.window_start and w.window_end
),

aggregated as (
    select
        period,
        case when grouping(team) = 1 then 'firm' else 'team' end as scope,
        team,
        {%- for kind, prefix in [('current', ''), ('prev', 'prev_'), ('last_year', 'ly_')] %}
        sum(billed_amount) filter (where kind = '{{ kind }}') as {{ prefix }}billed_amount,
        sum(invoices_billed) filter (where kind = '{{ kind }}') as {{ prefix }}invoices_billed,
        sum(billed_collected_amount) filter (where kind = '{{ kind }}') as {{ prefix }}billed_collected_amount,
        sum(collected_amount) filter (where kind = '{{ kind }}') as {{ prefix }}collected_amount,
        sum(invoices_due) filter (where kind = '{{ kind }}') as {{ prefix }}invoices_due,
        sum(invoices_due_paid_on_time) filter (where kind = '{{ kind }}') as {{ prefix }}invoices_due_paid_on_time,
        {%- endfor %}
        sum(received_amount) filter (where kind = 'current') as received_amount,
        sum(unidentified_amount) filter (where kind = 'current') as unidentified_amount,
        sum(unidentified_count) filter (where kind = 'current') as unidentified_count
    from measures
    group by grouping sets ((period, team), (period))
),

scopes as (
    select 'firm' as scope, null::varchar as team
    union all
    select distinct 'team' as scope, coalesce(team, '未分配') as team from {{ ref('dim_clients') }}
),

spine as (
    select w.*, s.scope, s.team from windows as w cross join scopes as s
),

rates as (
    select
        s.*,
        {%- for prefix in ['', 'prev_', 'ly_'] %}
        coalesce({{ 'a.' ~ prefix }}billed_amount, 0) as {{ prefix }}billed_amount,
        coalesce({{ 'a.' ~ prefix }}invoices_billed, 0) as {{ prefix }}invoices_billed,
        coalesce({{ 'a.' ~ prefix }}billed_collected_amount, 0) as {{ prefix }}billed_collected_amount,
        coalesce({{ 'a.' ~ prefix }}collected_amount, 0) as {{ prefix }}collected_amount,
        coalesce({{ 'a.' ~ prefix }}invoices_due, 0) as {{ prefix }}invoices_due,
        coalesce({{ 'a.' ~ prefix }}invoices_due_paid_on_time, 0) as {{ prefix }}invoices_due_paid_on_time,
        {{ 'a.' ~ prefix }}billed_collected_amount / nullif({{ 'a.' ~ prefix }}billed_amount, 0)
            as {{ prefix }}collection_rate,
        {{ 'a.' ~ prefix }}invoices_due_paid_on_time / nullif({{ 'a.' ~ prefix }}invoices_due, 0) as {{ prefix }}on_time_rate,
        {%- endfor %}
        coalesce(a.received_amount, 0) as received_amount,
        coalesce(a.unidentified_amount, 0) as unidentified_amount,
        coalesce(a.unidentified_count, 0) as unidentified_count
    from spine as s
    left join aggregated as a
        on a.period = s.period and a.scope = s.scope and a.team is not distinct from s.team
),

compared as (
    select
        *,
        collected_amount - prev_collected_amount as collected_mom_change,
        collected_amount - ly_collected_amount as collected_yoy_change
    from rates
),

final as (
    select
        scope || '|' || coalesce(team, '') || '|' || period as row_key,
        scope,
        team,
        period,
        month_start,
        period_end,
        days_in_period,
        days_in_month,
        is_partial_period,
        period_label,
        mom_label,
        yoy_label,
        cast(billed_amount as decimal(18, 2)) as billed_amount,
        cast(invoices_billed as integer) as invoices_billed,
        cast(billed_collected_amount as decimal(18, 2)) as billed_collected_amount,
        cast(collection_rate as double) as collection_rate,
        cast(collected_amount as decimal(18, 2)) as collected_amount,
        cast(round(collected_amount / 10000, 2) as double) as collected_amount_wan,
        cast(round(billed_amount / 10000, 2) as double) as billed_amount_wan,
        cast(invoices_due as integer) as invoices_due,
        cast(invoices_due_paid_on_time as integer) as invoices_due_paid_on_time,
        cast(on_time_rate as double) as on_time_rate,
        cast(received_amount as decimal(18, 2)) as received_amount,
        cast(unidentified_amount as decimal(18, 2)) as unidentified_amount,
        cast(unidentified_count as integer) as unidentified_count,
        prev_start as prev_period_start,
        prev_end as prev_period_end,
        prev_cutoff_date,
        cast(prev_billed_amount as decimal(18, 2)) as prev_billed_amount,
        cast(prev_collected_amount as decimal(18, 2)) as prev_collected_amount,
        cast(prev_collection_rate as double) as prev_collection_rate,
        cast(prev_on_time_rate as double) as prev_on_time_rate,
        cast(collected_mom_change as decimal(18, 2)) as collected_mom_change,
        cast(round(collected_mom_change / 10000, 2) as double) as collected_mom_change_wan,
        cast(collected_mom_change / nullif(prev_collected_amount, 0) as double) as collected_mom_pct,
        cast(collection_rate - prev_collection_rate as double) as collection_rate_mom_change,
        ly_start as ly_period_start,
        ly_end as ly_period_end,
        ly_cutoff_date,
        cast(ly_billed_amount as decimal(18, 2)) as ly_billed_amount,
        cast(ly_collected_amount as decimal(18, 2)) as ly_collected_amount,
        cast(ly_collection_rate as double) as ly_collection_rate,
        cast(collected_yoy_change as decimal(18, 2)) as collected_yoy_change,
        cast(round(collected_yoy_change / 10000, 2) as double) as collected_yoy_change_wan,
        cast(collected_yoy_change / nullif(ly_collected_amount, 0) as double) as collected_yoy_pct,
        cast(collection_rate - ly_collection_rate as double) as collection_rate_yoy_change
    from compared
)

select * from final
