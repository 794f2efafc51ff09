-- THE monthly collections figures (doc metric_collection_rate_monthly; the rates' formulas are the
-- collection_metrics macros) at two scopes: the firm and each team (the team of the client's
-- responsible accountant, as of the run date; 未分配 without one).
-- Every month is measured over its window from int_period_windows and compared with the previous
-- month's and last year's comparable windows (same days for 本月至今, whole months otherwise), each
-- measured at its own cutoff, so nothing here compares 20 days with 31.
--   billed            = invoices (not void) issued in the window
--   billed_collected  = cash applied, by the window's cutoff, to the invoices issued in the window
--   collected         = cash applied to invoices (any issue date) with applied_date in the window
--   invoices_due      = invoices falling due in the window (and by its cutoff); on time = paid in full
--                       by the due date
--   received / unidentified = money received (paid_date) in the window / of it, not matched to a client
{#- the month's own window and its two comparison windows: (kind, column prefix, window columns) -#}
{%- set comparisons = [
    ('current', '', 'month_start', 'period_end', 'cutoff_date'),
    ('prev', 'prev_', 'prev_start', 'prev_end', 'prev_cutoff_date'),
    ('last_year', 'ly_', 'ly_start', 'ly_end', 'ly_cutoff_date'),
] %}
{#- the additive measures (zero unless a source below sets them) -#}
{%- set measures = [
    ('billed_amount', '0.00'), ('invoices_billed', '0'), ('billed_collected_amount', '0.00'),
    ('collected_amount', '0.00'), ('invoices_due', '0'), ('invoices_due_paid_on_time', '0'),
    ('received_amount', '0.00'), ('unidentified_amount', '0.00'), ('unidentified_count', '0'),
] %}
{#- per source: its rows summed per day (and team) below, the days falling in a window, the measures
    they carry -#}
{%- set sources = [
    ('issued_by_day as d', 'd.issue_date between w.window_start and w.window_end',
     {'billed_amount': 'd.billed_amount', 'invoices_billed': 'd.invoices_billed'}),
    ('applied_by_issue_day as d',
     'd.issue_date between w.window_start and w.window_end and d.applied_date <= w.cutoff_date',
     {'billed_collected_amount': 'd.applied_amount'}),
    ('applied_by_day as d', 'd.applied_date between w.window_start and w.window_end',
     {'collected_amount': 'd.applied_amount'}),
    ('due_by_day as d', 'd.due_date between w.window_start and w.window_end and d.due_date <= w.cutoff_date',
     {'invoices_due': 'd.invoices_due', 'invoices_due_paid_on_time': 'd.invoices_due_paid_on_time'}),
    ('received_by_day as d', 'd.paid_date between w.window_start and w.window_end',
     {'received_amount': 'd.received_amount', 'unidentified_amount': 'd.unidentified_amount',
      'unidentified_count': 'd.unidentified_count'}),
] %}
with windows as (
    select * from {{ ref('int_period_windows') }}
),

comparison_windows as (
    {%- for kind, prefix, window_start, window_end, cutoff in comparisons %}
    select
        period,
        '{{ kind }}' as kind,
        {{ window_start }} as window_start,
        {{ window_end }} as window_end,
        {{ cutoff }} as cutoff_date
    from windows
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
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

-- each source summed per day and team first (exact: DECIMAL and integer sums), so a window joins a
-- few thousand day rows instead of every invoice, application and payment
issued_by_day as (
    select issue_date, team, sum(amount) as billed_amount, count(*) as invoices_billed
    from invoices
    group by all
),

due_by_day as (
    select
        due_date,
        team,
        count(*) as invoices_due,
        sum(case when paid_on_time then 1 else 0 end) as invoices_due_paid_on_time
    from invoices
    group by all
),

applied_by_issue_day as (
    select issue_date, applied_date, team, sum(applied_amount) as applied_amount
    from applications
    group by all
),

applied_by_day as (
    select applied_date, team, sum(applied_amount) as applied_amount
    from applications
    group by all
),

received_by_day as (
    select
        p.paid_date,
        c.team,
        sum(p.amount) as received_amount,
        sum(p.unidentified_amount) as unidentified_amount,
        sum(case when p.is_identified then 0 else 1 end) as unidentified_count
    from {{ ref('fct_payments') }} as p
    left join {{ ref('dim_clients') }} as c on c.client_id = p.resolved_client_id
    group by all
),

measures as (
    {%- for relation, in_window, carried in sources %}
    select
        w.period,
        w.kind,
        d.team,
        {%- for measure, zero in measures %}
        {{ carried.get(measure, zero) }} as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
    from comparison_windows as w
    inner join {{ relation }} on {{ in_window }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

aggregated as (
    select
        period,
        case when grouping(team) = 1 then 'firm' else 'team' end as scope,
        team,
        {%- for kind, prefix, _start, _end, _cutoff in comparisons %}
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
        {%- for _kind, prefix, _start, _end, _cutoff in comparisons %}
        coalesce({{ 'a.' ~ prefix }}billed_amount, 0) as {{ prefix }}billed_amount,
        coalesce({{ 'a.' ~ prefix }}invoices_billed, 0) as {{ prefix }}invoices_billed,
        coalesce({{ 'a.' ~ prefix }}billed_collected_amount, 0) as {{ prefix }}billed_collected_amount,
        coalesce({{ 'a.' ~ prefix }}collected_amount, 0) as {{ prefix }}collected_amount,
        coalesce({{ 'a.' ~ prefix }}invoices_due, 0) as {{ prefix }}invoices_due,
        coalesce({{ 'a.' ~ prefix }}invoices_due_paid_on_time, 0) as {{ prefix }}invoices_due_paid_on_time,
        {{ collection_rate('a.' ~ prefix ~ 'billed_collected_amount', 'a.' ~ prefix ~ 'billed_amount') }}
            as {{ prefix }}collection_rate,
        {{ on_time_rate('a.' ~ prefix ~ 'invoices_due_paid_on_time', 'a.' ~ prefix ~ 'invoices_due') }}
            as {{ prefix }}on_time_rate,
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
