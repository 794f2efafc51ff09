"""Managers' morning digest: exact text from a hand-made published snapshot, delivered to a real
webhook on 127.0.0.1 and logged; and the real night (tests/night.py) logs one after publishing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from orchestration.digest import build_digest, send_digest
from tests.test_ops_alerts import webhook  # noqa: F401 - real HTTP receiver on 127.0.0.1

AS_OF = dt.date(2026, 11, 20)


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.mart_kpi_cockpit as select * from (values"
            " ('2026-11', 'collected_amount', 246150.0, 325000.0, 246150.0 / 325000.0),"
            " ('2026-10', 'collected_amount', 999999.0, 1.0, 1.0),"
            " ('2026-11', 'on_time_rate', 0.88, 0.95, 0.93))"
            " t(period, metric, actual, target, achievement_rate)"
        )
        # open receivables 120000 + 30000 + 8000; more than 90 days past due: 30000 + 8000
        con.execute(
            "create table marts.mart_ar_aging_invoices as select * from (values"
            " (120000.00::decimal(18,2), 10), (30000.00::decimal(18,2), 91), (8000.00::decimal(18,2), 200))"
            " t(outstanding_amount, days_past_due)"
        )
        con.execute(
            "create table marts.mart_alerts as select * from (values"
            " ('invoice_overdue', '账单逾期', 'high', date '2026-11-20', 'action'),"
            " ('invoice_overdue', '账单逾期', 'medium', date '2026-11-02', 'action'),"
            " ('task_overdue', '任务逾期', 'medium', date '2026-11-20', 'action'),"
            " ('contract_expiring_low_renewal', '合同到期且续约概率低', 'high', date '2026-11-18', 'action'),"
            # older than the write-off age: counted on its own line, not as a pending alert
            " ('invoice_overdue', '账单逾期', 'high', date '2026-11-20', 'write_off_review'))"
            " t(alert_type, alert_type_cn, severity, first_seen_date, alert_list)"
        )
        con.execute(
            "create table marts.mart_collection_forecast as select * from (values"
            " ('month_1', '下月', 'firm', 336297.86, 297000.0, 376000.0),"
            " ('month_1', '下月', 'industry', 1.0, 1.0, 1.0))"
            " t(horizon, horizon_cn, scope_type, expected_amount, low_amount, high_amount)"
        )
    return path


EXPECTED = """本月至今回款：¥24.6万（月目标 ¥32.5万，已完成 75.7%）
应收余额：¥15.8万，其中逾期 90 天以上 ¥3.8万
待处理预警：4 条（高 2 条），今日新增 2 条
坏账核销候选：1 条（账龄超过核销复核期限，请财务复核）
预警最多：账单逾期 2 条、任务逾期 1 条、合同到期且续约概率低 1 条
即将到期且续约概率低的合同：1 份
下月预计回款：¥33.6万（区间 ¥29.7万 – ¥37.6万）
报表：http://reports.local/current/pages/index.html"""


def test_digest_text_from_the_snapshot(snapshot: Path):
    title, text = build_digest(snapshot, AS_OF, "http://reports.local/current/pages/index.html")
    assert title == "【运营中心·经营晨报】2026-11-20"
    assert text == EXPECTED


def test_digest_reaches_webhook_and_log(snapshot: Path, tmp_path: Path, webhook, monkeypatch):  # noqa: F811
    port, received = webhook
    log = tmp_path / "digests.jsonl"
    monkeypatch.setenv("OPSCENTER_DIGEST_URLS", f"json://127.0.0.1:{port}/managers")
    monkeypatch.setenv("OPSCENTER_DIGEST_LOG", str(log))
    record = send_digest(snapshot, AS_OF, "http://reports.local/current/pages/index.html")
    assert [d["ok"] for d in record["deliveries"]] == [True]
    ((path, payload),) = received
    assert path == "/managers"
    assert payload["title"] == "【运营中心·经营晨报】2026-11-20" and payload["message"] == EXPECTED
    logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(logged) == 1 and logged[0]["text"] == EXPECTED and logged[0]["as_of_date"] == "2026-11-20"
    assert "/managers" not in json.dumps(logged)  # channel URLs are redacted (path, tokens) in the log


def test_published_night_logs_a_digest_with_its_numbers(night):
    logged = [json.loads(line) for line in (night["root"] / "digests.jsonl").read_text().splitlines()]
    assert logged and {r["as_of_date"] for r in logged} == {"2026-11-20"}
    with duckdb.connect(str(night["warehouse"]), read_only=True) as con:
        alerts = con.execute("select count(*) from marts.mart_alerts where alert_list = 'action'").fetchone()[
            0
        ]
    assert f"待处理预警：{alerts} 条" in logged[-1]["text"]
