"""Collection forecast (回款预测) and its leak-free backtest, set-based SQL over the core tables.

Method (every input filtered to what was known on `cutoff`: invoices, voids, write-offs and the
payment applications come from dbt's intermediate *_at_cutoffs models, where the application rule is
evaluated as of each cutoff, so a later payment or write-off cannot re-route earlier money):
- Payment-timing distribution, measured from the issue month (payment terms differ between firms
  and clients often pay before the due date, so the issue month is the stable origin): for non-void
  invoices whose issue month is fully observed (issue month + MAX_OFFSET months all complete by the
  cutoff; the REF_MONTHS latest such issue months), share_k = Σ applied amount in month
  (issue month + k) / Σ invoice amount, k = 0..MAX_OFFSET (later than MAX_OFFSET months = the tail,
  not forecast). Per client when it has ≥ MIN_CLIENT_INVOICES reference invoices, else per
  industry, else the firm.
- Open invoices at the cutoff (issued ≤ cutoff, not void, not written off by then, outstanding =
  amount − applications known at the cutoff): expected in month t = outstanding × share_k /
  (1 − Σ share of the offsets already past), k = t − issue month.
- Invoices the schedules will issue: contracts signed by the cutoff, not ended or terminated by then,
  issue one invoice of fee_per_cycle at each cycle start after the cutoff (one-off: at start);
  expected in month t = amount × share_(t − issue month).
  Cycles after the contract's end_date continue the schedule weighted by the renewal probability
  (ml.renewal_scores of that night when present, else the renewal rate known at the cutoff),
  0 when a successor contract is already signed (its own schedule counts instead).
- New business: contracts without a predecessor invoiced in the month they are signed, averaged over
  the last REF_MONTHS complete months by industry and service type; every future month issues that
  amount, collected along the industry's (else the firm's) distribution.
- Band: expected × (1 ± band_pct), the low end floored at 0; band_pct = 80th percentile of
  |actual − forecast| / forecast of the backtest months before (≥ 3 months), else DEFAULT_BAND.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from orchestration.models.ml_tables import ddl

MAX_OFFSET = 4
REF_MONTHS = 6
MIN_CLIENT_INVOICES = 6
HORIZON_MONTHS = 6  # enough to hold the next calendar quarter whatever the cutoff month
DEFAULT_BAND = 0.15
BAND_QUANTILE = 0.8
DEFAULT_RENEWAL_RATE = 0.5  # no ended contract known at the cutoff: no evidence either way

COMPONENT_SQL = f"""
with params as (
    select
        $cutoff::date as cutoff,
        date_trunc('month', $cutoff::date)::date as m0,
        (date_trunc('month', $cutoff::date + 1) - interval {MAX_OFFSET + 1} month)::date as ref_end
),

ref_window as (
    select cutoff, m0, ref_end, (ref_end - interval {REF_MONTHS - 1} month)::date as ref_start
    from params
),

clients as (
    select client_id, industry from core.dim_clients
),

invoices as (
    select
        i.invoice_id,
        i.client_id,
        i.contract_id,
        i.issue_date,
        i.due_date,
        cast(i.amount as double) as amount,
        date_trunc('month', i.issue_date)::date as issue_month,
        coalesce(cl.industry, 'other') as industry,
        coalesce(k.service_type, 'other') as service_type,
        i.is_written_off as written_off_at_cutoff
    from intermediate.int_invoices_at_cutoffs as i
    cross join params as p
    left join clients as cl on cl.client_id = i.client_id
    left join core.dim_contracts as k on k.contract_id = i.contract_id
    where i.cutoff_date = p.cutoff and not i.is_void
),

applied as (
    select a.invoice_id, a.applied_date, cast(a.applied_amount as double) as applied_amount
    from intermediate.int_payment_applications_at_cutoffs as a
    cross join params as p
    where a.cutoff_date = p.cutoff
),

ref_invoices as (
    select i.*
    from invoices as i
    cross join ref_window as w
    where i.issue_month between w.ref_start and w.ref_end
),

ref_collected as (
    select
        r.client_id,
        r.industry,
        datediff('month', r.issue_month, date_trunc('month', a.applied_date)::date) as k,
        a.applied_amount
    from ref_invoices as r
    inner join applied as a on a.invoice_id = r.invoice_id
),

offsets as (
    select unnest(range(0, {MAX_OFFSET + 1})) as k
),

totals as (
    select 'client' as lvl, client_id as key, count(*) as n, sum(amount) as total
    from ref_invoices group by client_id
    union all
    select 'industry', industry, count(*), sum(amount) from ref_invoices group by industry
    union all
    select 'firm', '', count(*), sum(amount) from ref_invoices having count(*) > 0
),

collected as (
    select 'client' as lvl, client_id as key, k, sum(applied_amount) as amount
    from ref_collected group by client_id, k
    union all
    select 'industry', industry, k, sum(applied_amount) from ref_collected group by industry, k
    union all
    select 'firm', '', k, sum(applied_amount) from ref_collected group by k
),

distribution as (
    select
        t.lvl,
        t.key,
        o.k,
        coalesce(c.amount, 0) / t.total as share,
        sum(coalesce(c.amount, 0) / t.total) over (partition by t.lvl, t.key order by o.k) as cum_share
    from totals as t
    cross join offsets as o
    left join collected as c on c.lvl = t.lvl and c.key = t.key and c.k = o.k
),

client_level as (
    select
        cl.client_id,
        case
            when tc.n >= {MIN_CLIENT_INVOICES} then 'client'
            when ti.n is not null then 'industry'
            else 'firm'
        end as lvl,
        case
            when tc.n >= {MIN_CLIENT_INVOICES} then cl.client_id
            when ti.n is not null then cl.industry
            else ''
        end as key
    from clients as cl
    left join totals as tc on tc.lvl = 'client' and tc.key = cl.client_id
    left join totals as ti on ti.lvl = 'industry' and ti.key = cl.industry
),

horizon as (
    select unnest(range(1, {HORIZON_MONTHS + 1})) as h
),

open_invoices as (
    select
        i.invoice_id,
        i.client_id,
        i.industry,
        i.service_type,
        i.amount - coalesce(sum(a.applied_amount), 0) as outstanding,
        datediff('month', i.issue_month, p.m0) as age
    from invoices as i
    cross join params as p
    left join applied as a on a.invoice_id = i.invoice_id
    where not i.written_off_at_cutoff
    group by i.invoice_id, i.client_id, i.industry, i.service_type, i.amount, i.issue_month, p.m0
    having i.amount - coalesce(sum(a.applied_amount), 0) > 0.005
),

open_expected as (
    select
        h.h,
        o.industry,
        o.service_type,
        'open' as component,
        o.outstanding * d.share / (1 - coalesce(past.cum_share, 0)) as amount
    from open_invoices as o
    inner join client_level as cl on cl.client_id = o.client_id
    cross join horizon as h
    inner join distribution as d on d.lvl = cl.lvl and d.key = cl.key and d.k = h.h + o.age
    left join distribution as past on past.lvl = cl.lvl and past.key = cl.key and past.k = o.age
    where 1 - coalesce(past.cum_share, 0) > 1e-9
),

renewal_rate as (
    select coalesce(avg(case when s.contract_id is not null then 1.0 else 0.0 end), {DEFAULT_RENEWAL_RATE})
        as rate
    from core.dim_contracts as k
    cross join params as p
    left join core.dim_contracts as s
        on s.previous_contract_id = k.contract_id
        and s.effective_signed_date <= p.cutoff
        and s.start_date <= k.end_date + 30
    where k.billing_cycle <> 'one_off'
      and k.effective_signed_date <= p.cutoff
      and k.end_date + 30 < p.cutoff
      and k.end_date >= p.cutoff - 365
),

contracts as (
    select
        k.contract_id,
        k.client_id,
        coalesce(cl.industry, 'other') as industry,
        k.service_type,
        cast(k.fee_per_cycle as double) as fee,
        k.start_date,
        k.end_date,
        case k.billing_cycle
            when 'monthly' then 1 when 'quarterly' then 3 when 'semiannual' then 6 when 'annual' then 12
        end as step,
        exists (
            select 1 from core.dim_contracts as s
            where s.previous_contract_id = k.contract_id and s.effective_signed_date <= p.cutoff
        ) as renewed_at_cutoff,
        coalesce(rs.renewal_probability, rr.rate) as p_renew
    from core.dim_contracts as k
    cross join params as p
    cross join renewal_rate as rr
    inner join staging.stg_contracts as sc on sc.contract_id = k.contract_id
    left join clients as cl on cl.client_id = k.client_id
    left join ml.renewal_scores as rs on rs.contract_id = k.contract_id and rs.as_of_date = p.cutoff
    where k.effective_signed_date <= p.cutoff
      and k.end_date >= p.cutoff
      and not (sc.status = 'terminated' and cast(sc.updated_at as date) <= p.cutoff)
),

cycles as (
    select
        c.*,
        case when c.step is null then c.start_date
             else (c.start_date + to_months(cast(c.step * t.i as integer)))::date end as cycle_start
    from contracts as c
    cross join range(0, 400) as t(i)
    where t.i = 0 or c.step is not null
),

scheduled as (
    select
        c.client_id,
        c.industry,
        c.service_type,
        c.fee * case
            when c.cycle_start <= c.end_date then 1.0
            when c.renewed_at_cutoff then 0.0
            else c.p_renew
        end as amount,
        date_trunc('month', c.cycle_start)::date as issue_month
    from cycles as c
    cross join params as p
    where c.cycle_start > p.cutoff
      and c.cycle_start < p.m0 + interval {HORIZON_MONTHS + 1} month
      and (c.step is not null or c.cycle_start <= c.end_date)
),

scheduled_expected as (
    select
        h.h,
        s.industry,
        s.service_type,
        'scheduled' as component,
        s.amount * d.share as amount
    from scheduled as s
    inner join client_level as cl on cl.client_id = s.client_id
    cross join params as p
    cross join horizon as h
    inner join distribution as d
        on d.lvl = cl.lvl and d.key = cl.key
        and d.k = datediff('month', s.issue_month, (p.m0 + to_months(cast(h.h as integer)))::date)
),

-- New business: contracts not known at the cutoff (no predecessor: renewals are weighted above)
-- invoiced in the month they are signed. Its monthly amount is the average of the last REF_MONTHS
-- complete months (fewer when the history is shorter), by industry and service type; each future
-- month issues that amount, collected along the industry's (else the firm's) distribution.
nb_window as (
    select
        (date_trunc('month', p.cutoff + 1) - interval {REF_MONTHS} month)::date as nb_start,
        (date_trunc('month', p.cutoff + 1) - interval 1 month)::date as nb_end
    from params as p
),

nb_months as (
    -- months of the window since the firm's first invoice (a shorter history is not diluted)
    select greatest(1, datediff('month', greatest(w.nb_start, min(i.issue_month)), w.nb_end) + 1) as n
    from invoices as i
    cross join nb_window as w
    group by w.nb_start, w.nb_end
),

new_business_rate as (
    select i.industry, i.service_type, sum(i.amount) / any_value(m.n) as monthly_amount
    from invoices as i
    inner join core.dim_contracts as k on k.contract_id = i.contract_id
    cross join nb_window as w
    cross join nb_months as m
    where k.previous_contract_id is null
      and date_trunc('month', k.effective_signed_date) = i.issue_month
      and i.issue_month between w.nb_start and w.nb_end
    group by i.industry, i.service_type
),

new_business_expected as (
    select
        h.h,
        n.industry,
        n.service_type,
        'new_business' as component,
        n.monthly_amount * d.share as amount
    from new_business_rate as n
    cross join horizon as h
    cross join horizon as j
    left join totals as ti on ti.lvl = 'industry' and ti.key = n.industry
    inner join distribution as d
        on d.lvl = case when ti.n is not null then 'industry' else 'firm' end
        and d.key = case when ti.n is not null then n.industry else '' end
        and d.k = h.h - j.h
    where j.h <= h.h
)

select h, industry, service_type, component, sum(amount) as amount
from (
    select * from open_expected
    union all
    select * from scheduled_expected
    union all
    select * from new_business_expected
)
group by all
order by all
"""


def monthly_components(conn: duckdb.DuckDBPyConnection, cutoff: dt.date) -> pd.DataFrame:
    """Expected collections per month ahead h (1..HORIZON_MONTHS), industry, service type, component."""
    known = conn.execute(
        "select count(*) from intermediate.int_cutoff_dates where cutoff_date = $cutoff", {"cutoff": cutoff}
    ).fetchone()[0]
    if not known:
        # invoices and applications as known at the cutoff come from the intermediate *_at_cutoffs
        # models, which dbt builds for as_of_date and the backtest's month ends only
        raise ValueError(f"cutoff {cutoff} is not in intermediate.int_cutoff_dates; rebuild dbt for it")
    conn.execute("CREATE SCHEMA IF NOT EXISTS ml")
    conn.execute(ddl("renewal_scores"))
    return conn.execute(COMPONENT_SQL, {"cutoff": cutoff}).df()


def _month_start(cutoff: dt.date, h: int) -> dt.date:
    m = cutoff.year * 12 + cutoff.month - 1 + h
    return dt.date(m // 12, m % 12 + 1, 1)


def _horizon_months(cutoff: dt.date) -> dict[str, list[int]]:
    q_first = (cutoff.month - 1) // 3 * 3 + 3 - (cutoff.month - 1)  # h of the next quarter's 1st month
    return {
        "month_1": [1],
        "month_2": [2],
        "month_3": [3],
        "next_quarter": [q_first, q_first + 1, q_first + 2],
    }


def forecast(
    conn: duckdb.DuckDBPyConnection, cutoff: dt.date, band_pct: float = DEFAULT_BAND
) -> pd.DataFrame:
    """Forecast for the 3 months after the cutoff's month and the next calendar quarter, by scope."""
    comp = monthly_components(conn, cutoff)
    rows = []
    for horizon, hs in _horizon_months(cutoff).items():
        part = comp[comp["h"].isin(hs)]
        start = _month_start(cutoff, hs[0])
        end = _month_start(cutoff, hs[-1] + 1) - dt.timedelta(days=1)
        scopes = [("firm", part.assign(scope_id=""))]
        scopes += [("industry", part.assign(scope_id=part["industry"]))]
        scopes += [("service_type", part.assign(scope_id=part["service_type"]))]
        for scope_type, frame in scopes:
            pivot = frame.pivot_table(
                index="scope_id", columns="component", values="amount", aggfunc="sum", fill_value=0.0
            )
            for scope_id, r in pivot.iterrows():
                rows.append(
                    (
                        horizon,
                        start,
                        end,
                        scope_type,
                        scope_id,
                        r.get("open", 0.0),
                        r.get("scheduled", 0.0),
                        r.get("new_business", 0.0),
                    )
                )
            if scope_type == "firm" and pivot.empty:
                rows.append((horizon, start, end, "firm", "", 0.0, 0.0, 0.0))
    out = pd.DataFrame(
        rows,
        columns=[
            "horizon",
            "period_start",
            "period_end",
            "scope_type",
            "scope_id",
            "open_invoice_amount",
            "scheduled_invoice_amount",
            "new_business_amount",
        ],
    )
    out["expected_amount"] = (
        out["open_invoice_amount"] + out["scheduled_invoice_amount"] + out["new_business_amount"]
    )
    out["band_pct"] = band_pct
    # a band wider than 100 % (a young or erratic firm) must not predict negative collections
    out["low_amount"] = (out["expected_amount"] * (1 - band_pct)).clip(lower=0.0)
    out["high_amount"] = out["expected_amount"] * (1 + band_pct)
    out.insert(0, "cutoff_date", cutoff)
    return out.round(2).sort_values(["horizon", "scope_type", "scope_id"]).reset_index(drop=True)


def band_from_errors(forecasts: pd.Series, actuals: pd.Series) -> float:
    ok = forecasts > 0
    if ok.sum() < 3:
        return DEFAULT_BAND
    errors = ((actuals[ok] - forecasts[ok]).abs() / forecasts[ok]).to_numpy()
    return float(np.quantile(errors, BAND_QUANTILE))


def _last_complete_month(as_of: dt.date) -> dt.date:
    nxt = as_of + dt.timedelta(days=1)
    first = dt.date(nxt.year, nxt.month, 1)
    prev = first - dt.timedelta(days=1)
    return dt.date(prev.year, prev.month, 1)


def backtest(conn: duckdb.DuckDBPyConnection, as_of: dt.date, months: int = 12) -> pd.DataFrame:
    """For each of the last `months` complete months: the firm's month_1 forecast made at the end of
    the previous month (inputs filtered to that cutoff) vs the collections applied in the month."""
    last = _last_complete_month(as_of)
    rows = []
    for back in range(months - 1, -1, -1):
        m = last.year * 12 + last.month - 1 - back
        month_start = dt.date(m // 12, m % 12 + 1, 1)
        cutoff = month_start - dt.timedelta(days=1)
        comp = monthly_components(conn, cutoff)
        rows.append((month_start.strftime("%Y-%m"), cutoff, float(comp.loc[comp["h"] == 1, "amount"].sum())))
    out = pd.DataFrame(rows, columns=["period", "cutoff_date", "forecast_amount"])
    actual = conn.execute(
        "select strftime(applied_date, '%Y-%m') as period,"
        " sum(cast(applied_amount as double)) as actual_amount"
        " from core.fct_payment_applications where applied_date <= $as_of group by 1",
        {"as_of": as_of},
    ).df()
    out = out.merge(actual, on="period", how="left").fillna({"actual_amount": 0.0})
    bands = [band_from_errors(out["forecast_amount"][:i], out["actual_amount"][:i]) for i in range(len(out))]
    out["low_amount"] = (out["forecast_amount"] * (1 - np.array(bands))).clip(lower=0.0)
    out["high_amount"] = out["forecast_amount"] * (1 + np.array(bands))
    out.insert(0, "as_of_date", as_of)
    return out.round(2)
