"""The GX suites as data: which frames are queried from the warehouse and what is expected of them.

A *frame* is one SQL query over the warehouse; its result is validated as a GX dataframe asset.
Row-level frames (a core table) carry value-range expectations; one-row frames carry aggregates
computed in SQL (distribution shares, volume ratios, freshness lags, reject shares) so each
expectation is a simple bound on one column. A *check* is one expectation with a name, the Dagster
asset it reports on (`core/fct_payments`, `raw/payments`, ...) and a default severity.
Nothing here imports GX: the Dagster check specs are built from this module at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orchestration.contract import ENTITIES, REQUIRED_ENTITIES
from orchestration.quality.config import ERROR, WARN, QualityConfig

NO_DATA_LAG = 99999  # lag_days of a required raw entity with no rows at all


@dataclass(frozen=True)
class Frame:
    name: str  # GX data asset name
    sql: Callable[[QualityConfig, set[str]], str]  # (config, existing "schema.table" names) -> SQL
    one_row: bool  # aggregate frame: the checked column's value is the observation


@dataclass(frozen=True)
class Check:
    name: str
    asset_key: str  # "<schema>/<name>" as in docs/architecture.md
    frame: str
    default_severity: str
    label: str  # Chinese, what is being checked (alerts, summary page)
    expectation: Callable[[QualityConfig], tuple[str, dict]]  # GX class name, kwargs
    column: str | None = None  # the column an aggregate check reads (observed value)
    note: Callable[[dict, QualityConfig], str | None] | None = None  # pass-with-note when data is thin

    def severity(self, config: QualityConfig) -> str:
        return config.severity(self.name, self.default_severity)


def _between(column: str, lo=None, hi=None, strict_min=False, **extra) -> tuple[str, dict]:
    kw = {"column": column, "min_value": lo, "max_value": hi, "strict_min": strict_min, **extra}
    return "ExpectColumnValuesToBeBetween", kw


# ---------------------------------------------------------------- frames over core tables


def _table(sql: str) -> Callable[[QualityConfig, set[str]], str]:
    return lambda cfg, tables: sql


def _payments_mix(cfg: QualityConfig, tables: set[str]) -> str:
    methods = ", ".join("'" + m.replace("'", "''") + "'" for m in cfg.unidentified_methods)
    days = cfg.distribution_window_days - 1
    # the channel mix is judged against the firm's own history before the window (a firm whose
    # clients simply pay by bank transfer is not an anomaly; a sudden jump is a mapping error)
    history_end = cfg.distribution_window_days
    history_start = history_end + cfg.channel_history_days - 1
    return f"""
        with window_payments as (
            select channel, identification_method from core.fct_payments
            where paid_date between $as_of::DATE - {days} and $as_of::DATE
        ), history_payments as (
            select channel from core.fct_payments
            where paid_date between $as_of::DATE - {history_start} and $as_of::DATE - {history_end}
        ), by_channel as (
            select channel, count(*) as n from window_payments group by channel
        ), dominant as (
            select channel, n from by_channel order by n desc, channel limit 1
        ), totals as (select count(*) as n_payments from window_payments),
        history as (
            select count(*) as n_history,
                count(*) filter (where channel = (select channel from dominant)) as n_dominant
            from history_payments
        )
        select
            totals.n_payments,
            history.n_history as history_payments,
            (select channel from dominant) as dominant_channel,
            case when totals.n_payments > 0 and history.n_history >= {cfg.channel_min_history_payments} then
                (select n from dominant)::DOUBLE / totals.n_payments
                - history.n_dominant::DOUBLE / history.n_history end as channel_share_shift,
            case when totals.n_payments > 0 then (select avg(case when identification_method
                in ({methods}) then 1.0 else 0.0 end) from window_payments) end as share_unidentified,
            case when totals.n_payments > 0 then
                (select max(n) from by_channel)::DOUBLE / totals.n_payments end as max_channel_share,
            case when totals.n_payments > 0 then coalesce(
                (select n from by_channel where channel = 'other'), 0)::DOUBLE / totals.n_payments
            end as share_other_channel
        from totals cross join history"""


def _clients_mix(cfg: QualityConfig, tables: set[str]) -> str:
    return """
        select count(*) as n_clients,
            avg(case when industry = 'other' then 1.0 else 0.0 end) as share_other_industry
        from core.dim_clients"""


# ---------------------------------------------------------------- frames over raw bookkeeping


def _nightly_runs(entity: str, history: int) -> str:
    """The last load of each night for one entity, over the trailing window ending tonight."""
    return f"""
        select as_of_date, rows_read, rows_accepted, rows_rejected, rows_unique
        from raw.load_runs
        where entity = '{entity}' and as_of_date between $as_of::DATE - {history} and $as_of::DATE
        qualify row_number() over (partition by as_of_date order by loaded_at desc, load_id desc) = 1"""


def _volume(cfg: QualityConfig, tables: set[str]) -> str:
    parts = []
    for e in VOLUME_ENTITIES:
        ratio = "case when h.n >= {m} and h.med_{c} > 0 then coalesce(t.{c}, 0)::DOUBLE / h.med_{c} end"
        parts.append(f"""(
            with nightly as ({_nightly_runs(e, cfg.volume_history_nights)}),
            t as (select rows_accepted as accepted, rows_unique as uniq from nightly
                  where as_of_date = $as_of::DATE),
            h as (select count(*) as n, median(rows_accepted) as med_accepted,
                         median(rows_unique) as med_uniq
                  from nightly where as_of_date < $as_of::DATE)
            select h.n as history_nights_{e},
                coalesce(t.accepted, 0) as accepted_{e}, h.med_accepted as median_accepted_{e},
                {ratio.format(m=cfg.volume_min_history, c="accepted")} as ratio_accepted_{e},
                coalesce(t.uniq, 0) as unique_{e}, h.med_uniq as median_unique_{e},
                {ratio.format(m=cfg.volume_min_history, c="uniq")} as ratio_unique_{e}
            from h left join t on true
        )""")
    return "select * from " + " cross join ".join(parts)


def _freshness(cfg: QualityConfig, tables: set[str]) -> str:
    cols = []
    for e in FRESHNESS_ENTITIES:
        if f"raw.{e}" in tables:
            lag = f"(select date_diff('day', max(updated_at)::DATE, $as_of::DATE) from raw.{e})"
        else:
            lag = "NULL::INTEGER"
        if e in REQUIRED_ENTITIES:  # a required entity with no rows is as stale as it gets
            lag = f"coalesce({lag}, {NO_DATA_LAG})"
        cols.append(f"{lag} as lag_days_{e}")
        # rows updated after the night's exports could exist: a clock or time-zone error at the source
        limit = cfg.future_updated_at_days + 1
        future = f"(select count(*) from raw.{e} where updated_at >= $as_of::DATE + {limit})"
        future = future if f"raw.{e}" in tables else "0"
        cols.append(f"{future} as future_rows_{e}")
    return "select " + ", ".join(cols)


def _rejects(cfg: QualityConfig, tables: set[str]) -> str:
    cols = []
    for e in ENTITIES:
        # A handful of bad rows in a small export is not a systemic problem: within the allowance
        # the share counts as 0, beyond it the true share is judged.
        cols.append(f"""(select case when rows_rejected <= {cfg.reject_allowance_rows} then 0
            else rows_rejected::DOUBLE / nullif(rows_read, 0) end
            from ({_nightly_runs(e, 0)})) as reject_share_{e}""")
        cols.append(f"""(select count(*) from raw.load_files where entity = '{e}'
            and as_of_date = $as_of::DATE and status = 'rejected_file') as rejected_files_{e}""")
    return "select " + ",\n".join(cols)


VOLUME_ENTITIES = ("payments", "invoices", "tasks")
FRESHNESS_ENTITIES = tuple(e.name for e in ENTITIES.values() if e.has_updated_at)

FRAMES: dict[str, Frame] = {
    f.name: f
    for f in [
        Frame(
            "core.fct_invoices",
            _table("""select invoice_id, amount::DOUBLE as amount,
                outstanding_amount::DOUBLE as outstanding_amount, days_past_due
                from core.fct_invoices"""),
            one_row=False,
        ),
        Frame(
            "core.fct_payments",
            _table("select payment_id, amount::DOUBLE as amount from core.fct_payments"),
            one_row=False,
        ),
        Frame("core.fct_payments_mix", _payments_mix, one_row=True),
        Frame("core.fct_tasks", _table("select task_id, error_count from core.fct_tasks"), one_row=False),
        Frame("core.dim_clients_mix", _clients_mix, one_row=True),
        Frame("raw.volume", _volume, one_row=True),
        Frame("raw.freshness", _freshness, one_row=True),
        Frame("raw.rejects", _rejects, one_row=True),
    ]
}


def _volume_note(entity: str):
    def note(row: dict, cfg: QualityConfig) -> str | None:
        n = int(row.get(f"history_nights_{entity}") or 0)
        if n < cfg.volume_min_history:
            return f"历史仅 {n} 晚（少于 {cfg.volume_min_history} 晚），暂不比较 insufficient history"
        return None

    return note


def _mix_note(row: dict, cfg: QualityConfig) -> str | None:
    if not row.get("n_payments"):
        return f"近 {cfg.distribution_window_days} 天无收款，跳过 no payments in window"
    return None


def _channel_note(row: dict, cfg: QualityConfig) -> str | None:
    if not row.get("n_payments"):
        return _mix_note(row, cfg)
    shift = row.get("channel_share_shift")
    if shift is None or shift != shift:  # NULL arrives as NaN in the frame
        return (
            f"此前 {cfg.channel_history_days} 天收款不足 {cfg.channel_min_history_payments} 笔，"
            "无历史可比，跳过 not enough history"
        )
    return None


def _invoice_checks() -> list[Check]:
    """Value ranges on core.fct_invoices rows."""
    return [
        Check(
            "invoice_amount_range",
            "core/fct_invoices",
            "core.fct_invoices",
            ERROR,
            "账单金额在 (0, 上限] 内",
            lambda c: _between("amount", 0, c.max_invoice_amount, strict_min=True),
        ),
        Check(
            "invoice_outstanding_nonnegative",
            "core/fct_invoices",
            "core.fct_invoices",
            ERROR,
            "未收金额不为负",
            lambda c: _between("outstanding_amount", 0, None),
        ),
        Check(
            "invoice_outstanding_le_amount",
            "core/fct_invoices",
            "core.fct_invoices",
            ERROR,
            "未收金额不超过账单金额",
            lambda c: (
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": "amount",
                    "column_B": "outstanding_amount",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
            ),
        ),
        Check(
            "invoice_days_past_due_range",
            "core/fct_invoices",
            "core.fct_invoices",
            ERROR,
            "逾期天数在 [0, 上限] 内",
            lambda c: _between("days_past_due", 0, c.max_days_past_due),
        ),
    ]


def _payment_checks() -> list[Check]:
    """Payment amounts (rows) and the channel mix of the recent window (one-row frame)."""
    return [
        Check(
            "payment_amount_range",
            "core/fct_payments",
            "core.fct_payments",
            ERROR,
            "收款金额在 (0, 上限] 内",
            lambda c: _between("amount", 0, c.max_payment_amount, strict_min=True),
        ),
        Check(
            "payment_unidentified_share",
            "core/fct_payments",
            "core.fct_payments_mix",
            ERROR,
            "未识别收款占比不超过上限",
            lambda c: _between("share_unidentified", 0, c.max_unidentified_share),
            column="share_unidentified",
            note=_mix_note,
        ),
        Check(
            "payment_channel_concentration",
            "core/fct_payments",
            "core.fct_payments_mix",
            WARN,
            "主要收款渠道占比较本公司历史的升幅不超过上限",
            lambda c: _between("channel_share_shift", None, c.max_channel_share_shift),
            column="channel_share_shift",
            note=_channel_note,
        ),
        Check(
            "payment_other_channel_share",
            "core/fct_payments",
            "core.fct_payments_mix",
            WARN,
            "“其他”渠道占比不超过上限",
            lambda c: _between("share_other_channel", 0, c.max_other_channel_share),
            column="share_other_channel",
            note=_mix_note,
        ),
    ]


def _task_checks() -> list[Check]:
    """Value ranges on core.fct_tasks rows."""
    return [
        Check(
            "task_error_count_range",
            "core/fct_tasks",
            "core.fct_tasks",
            ERROR,
            "差错数在 [0, 上限] 内",
            lambda c: _between("error_count", 0, c.max_error_count),
        ),
    ]


def _client_checks() -> list[Check]:
    """The client dimension is not empty and few clients have industry 'other'."""
    return [
        Check(
            "clients_not_empty",
            "core/dim_clients",
            "core.dim_clients_mix",
            ERROR,
            "客户表不为空",
            lambda c: _between("n_clients", 1, None),
            column="n_clients",
        ),
        Check(
            "clients_other_industry_share",
            "core/dim_clients",
            "core.dim_clients_mix",
            WARN,
            "行业为“其他”的客户占比不超过上限",
            lambda c: _between("share_other_industry", 0, c.max_other_industry_share),
            column="share_other_industry",
        ),
    ]


def _volume_checks() -> list[Check]:
    """Tonight's accepted and unique rows against the recent median, per volume entity."""
    checks = []
    for e in VOLUME_ENTITIES:
        sev = ERROR if e == "payments" else WARN
        for kind, label in (("accepted", "接收行数"), ("unique", "去重后行数")):
            col = f"ratio_{kind}_{e}"
            checks.append(
                Check(
                    f"volume_{kind}_{e}",
                    f"raw/{e}",
                    "raw.volume",
                    sev,
                    f"今晚{ENTITIES[e].label}{label}在近期中位数 ±波动带内",
                    lambda c, col=col: _between(col, 1 - c.volume_band, 1 + c.volume_band),
                    column=col,
                    note=_volume_note(e),
                )
            )
    return checks


def _freshness_checks() -> list[Check]:
    """Latest updated_at not too old and not in the future, per entity that has one."""
    checks = []
    for e in FRESHNESS_ENTITIES:
        col = f"lag_days_{e}"
        checks.append(
            Check(
                f"freshness_{e}",
                f"raw/{e}",
                "raw.freshness",
                WARN,
                f"{ENTITIES[e].label}最新更新时间不早于允许滞后天数",
                lambda c, col=col, e=e: _between(col, None, c.lag_days(e)),
                column=col,
            )
        )
        col = f"future_rows_{e}"
        checks.append(
            Check(
                f"future_updated_at_{e}",
                f"raw/{e}",
                "raw.freshness",
                WARN,
                f"{ENTITIES[e].label}没有晚于数据日期的更新时间",
                lambda c, col=col: _between(col, 0, 0),
                column=col,
            )
        )
    return checks


def _reject_checks() -> list[Check]:
    """Rejected rows and whole rejected files of tonight's load, per entity."""
    checks = []
    for e in ENTITIES:
        col = f"reject_share_{e}"
        checks.append(
            Check(
                f"reject_share_{e}",
                f"raw/{e}",
                "raw.rejects",
                ERROR,
                f"{ENTITIES[e].label}拒收行占比不超过上限",
                lambda c, col=col: _between(col, 0, c.max_reject_share),
                column=col,
            )
        )
        col = f"rejected_files_{e}"
        checks.append(
            Check(
                f"rejected_files_{e}",
                f"raw/{e}",
                "raw.rejects",
                ERROR,
                f"{ENTITIES[e].label}没有整文件被拒收",
                lambda c, col=col: _between(col, 0, 0),
                column=col,
            )
        )
    return checks


def _build_checks() -> list[Check]:
    return (
        _invoice_checks()
        + _payment_checks()
        + _task_checks()
        + _client_checks()
        + _volume_checks()
        + _freshness_checks()
        + _reject_checks()
    )


CHECKS: list[Check] = _build_checks()
CHECKS_BY_NAME = {c.name: c for c in CHECKS}
