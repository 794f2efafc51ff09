"""Morning digest (经营晨报) for managers: the night's headline numbers, read from the snapshot that
was just published (masked, the same numbers the pages show), sent through apprise to
$OPSCENTER_DIGEST_URLS and appended to the digest log. Sent only after a green publication: a held
night sends ops an alert instead and managers keep yesterday's pages.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb

from orchestration import settings
from orchestration.ops_alerts import deliver

LOW_RENEWAL = "contract_expiring_low_renewal"


def _wan(amount: float | None) -> str:
    return "—" if amount is None else f"¥{amount / 10000:,.1f}万"


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> tuple:
    row = con.execute(sql, params or {}).fetchone()
    return row if row is not None else ()


def build_digest(snapshot: Path, as_of: dt.date, pages: str | None = None) -> tuple[str, str]:
    """(title, text) of the digest for `as_of` from a published snapshot."""
    period = as_of.strftime("%Y-%m")
    with duckdb.connect(str(snapshot), read_only=True) as con:
        collected = _one(
            con,
            "select actual, target, achievement_rate from marts.mart_kpi_cockpit"
            " where period = $p and metric = 'collected_amount'",
            {"p": period},
        )
        ar_total, ar_90 = _one(
            con,
            "select sum(outstanding_amount)::double,"
            " coalesce(sum(outstanding_amount) filter (where days_past_due > 90), 0)::double"
            " from marts.mart_ar_aging_invoices",
        )
        # the action list only: items past the write-off age are a separate review list (坏账核销候选)
        alerts, high, new, write_off = _one(
            con,
            "select count(*) filter (where alert_list = 'action'),"
            " count(*) filter (where alert_list = 'action' and severity = 'high'),"
            " count(*) filter (where alert_list = 'action' and first_seen_date = $d),"
            " count(*) filter (where alert_list = 'write_off_review') from marts.mart_alerts",
            {"d": as_of},
        )
        top_types = con.execute(
            "select alert_type_cn, count(*) from marts.mart_alerts where alert_list = 'action'"
            " group by 1 order by 2 desc, 1 limit 3"
        ).fetchall()
        low_renewal = _one(con, f"select count(*) from marts.mart_alerts where alert_type = '{LOW_RENEWAL}'")[
            0
        ]
        forecast = _one(
            con,
            "select horizon_cn, expected_amount, low_amount, high_amount from marts.mart_collection_forecast"
            " where scope_type = 'firm' and horizon = 'month_1'",
        )
    lines = []
    if collected:
        actual, target, rate = collected
        goal = f"（月目标 {_wan(target)}，已完成 {_pct(rate)}）" if target else ""
        lines.append(f"本月至今回款：{_wan(actual)}{goal}")
    lines.append(f"应收余额：{_wan(ar_total)}，其中逾期 90 天以上 {_wan(ar_90)}")
    lines.append(f"待处理预警：{alerts} 条（高 {high} 条），今日新增 {new} 条")
    if write_off:
        lines.append(f"坏账核销候选：{write_off} 条（账龄超过核销复核期限，请财务复核）")
    if top_types:
        lines.append("预警最多：" + "、".join(f"{name} {n} 条" for name, n in top_types))
    lines.append(f"即将到期且续约概率低的合同：{low_renewal} 份")
    if forecast:
        label, expected, low, high_ = forecast
        lines.append(f"{label}预计回款：{_wan(expected)}（区间 {_wan(low)} – {_wan(high_)}）")
    if pages:
        lines.append(f"报表：{pages}")
    return f"【运营中心·经营晨报】{as_of.isoformat()}", "\n".join(lines)


def send_digest(snapshot: Path, as_of: dt.date, pages: str | None = None) -> dict:
    """Build the digest, send it to every $OPSCENTER_DIGEST_URLS, append the record to the digest log."""
    title, text = build_digest(snapshot, as_of, pages)
    deliveries = [deliver(url, title, text, "info") for url in settings.digest_urls()]
    record = {
        "sent_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "as_of_date": as_of.isoformat(),
        "title": title,
        "text": text,
        "deliveries": deliveries,
    }
    log = settings.digest_log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return record
