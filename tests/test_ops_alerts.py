"""Ops alerts through apprise to a real HTTP server on 127.0.0.1, and the JSONL log."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestration.ops_alerts import send_ops_alert


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            length = int(self.headers.get("Content-Length", 0))
            received.append((self.path, json.loads(self.rfile.read(length).decode("utf-8"))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


CONTEXT = {
    "as_of_date": "2026-11-20",
    "asset": "core/fct_payments",
    "rows": 17,
    "details_path": "data/quality/2026-11-20_abc/data_docs/index.html",
    "held_back": True,
    "run_id": "abc",
}


def test_alert_reaches_webhook_and_log(webhook, tmp_path, monkeypatch):
    port, received = webhook
    log = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("OPSCENTER_ALERT_URLS", f"json://127.0.0.1:{port}/hook/ops")
    monkeypatch.setenv("OPSCENTER_ALERT_LOG", str(log))
    record = send_ops_alert("质量检查未通过", "收款金额出现负数。", level="error", context=CONTEXT)

    assert len(received) == 1
    path, payload = received[0]
    assert path == "/hook/ops"
    assert "质量检查未通过" in payload["title"]
    message = payload["message"]
    assert "core/fct_payments" in message
    assert "涉及行数：17" in message
    assert "本次发布已暂停，报表保持上一版本" in message
    assert "data_docs/index.html" in message

    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    logged = json.loads(lines[0])
    assert logged == json.loads(json.dumps(record, ensure_ascii=False))
    assert logged["deliveries"][0]["ok"] is True
    assert logged["delivered"] is True
    assert "/hook" not in logged["deliveries"][0]["url"]  # path (often the token) is redacted


def test_unreachable_url_still_logged_with_failure(webhook, tmp_path, monkeypatch):
    port, received = webhook
    log = tmp_path / "alerts.jsonl"
    dead = _closed_port()
    monkeypatch.setenv("OPSCENTER_ALERT_URLS", f"json://127.0.0.1:{dead}/x, json://127.0.0.1:{port}/ok")
    monkeypatch.setenv("OPSCENTER_ALERT_LOG", str(log))
    send_ops_alert("夜间任务失败", "步骤 dbt_models 出错。", level="error", context={"held_back": True})
    send_ops_alert("原始数据过期", "收款 5 天未更新。", level="warning", context={})

    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [r["title"] for r in records] == ["【运营中心·错误】夜间任务失败", "【运营中心·警告】原始数据过期"]
    first = records[0]["deliveries"]
    assert [d["ok"] for d in first] == [False, True]
    assert f":{dead}/" in first[0]["url"]
    assert len(received) == 2  # the live URL got both messages
    assert "发布已暂停" not in records[1]["text"]  # a warning does not claim publication was held


def test_no_urls_configured_still_logs(tmp_path, monkeypatch):
    monkeypatch.delenv("OPSCENTER_ALERT_URLS", raising=False)
    monkeypatch.setenv("OPSCENTER_ALERT_LOG", str(tmp_path / "a" / "alerts.jsonl"))
    record = send_ops_alert("测试", "正文", level="info", context={})
    assert record["deliveries"] == [] and record["delivered"] is False
    assert (tmp_path / "a" / "alerts.jsonl").read_text(encoding="utf-8").count("\n") == 1


ORPHAN = "AR_ORPHAN_01,9999999999,,2026-11-02,2026-12-02,880.00,open,2026-11-02 10:00:00\n"


def test_orphan_invoice_named_end_to_end(webhook, tmp_path):
    """A real night (CLI, loaders, real dbt build) on a small firm with one invoice of a client that
    does not exist: dbt's relationships test fails, and the one alert on the HTTP endpoint names the
    test, its model and the invoice; the quality report lists it too."""
    import datetime as dt
    import os
    import subprocess
    import sys
    from pathlib import Path

    from orchestration.demo import generate

    port, received = webhook
    raw = tmp_path / "raw"
    generate(raw, dt.date(2026, 11, 20), seed=5, clients=8, months=3)
    [invoices] = (raw / "invoices").glob("*.csv")
    with invoices.open("a", encoding="utf-8") as fh:
        fh.write(ORPHAN)  # the hand-made fault: client 9999999999 is in no client export
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text("")
    repo = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "OPSCENTER_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "OPSCENTER_RAW_DIR": str(raw),
        "OPSCENTER_PUBLISH_DIR": str(tmp_path / "published"),
        "OPSCENTER_QUALITY_DIR": str(tmp_path / "quality"),
        "OPSCENTER_ALERT_LOG": str(tmp_path / "alerts.jsonl"),
        "OPSCENTER_DIGEST_LOG": str(tmp_path / "digests.jsonl"),
        "OPSCENTER_ALERT_URLS": f"json://127.0.0.1:{port}/hook/ops",
        "OPSCENTER_DAGSTER_URL": "http://dagster.firm.local:3000",
        "OPSCENTER_SETTLE_SECONDS": "0",
    }
    cmd = [sys.executable, "-m", "orchestration.cli", "nightly", "--as-of", "2026-11-20"]
    proc = subprocess.run(cmd, env=env, cwd=repo, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the night failed, and said so

    [(path, payload)] = received  # one alert for the night
    assert path == "/hook/ops"
    assert payload["title"] == "【运营中心·错误】夜间运行失败（1 项）"
    message = payload["message"]
    assert (
        "1. dbt 测试：引用完整（外键）（relationships_fct_invoices_client_id__client_id__ref_dim_clients_）"
        "· fct_invoices、dim_clients：1 行；示例：invoice_id=AR_ORPHAN_01（client_id=9999999999）"
    ) in message
    assert "步骤失败" not in message  # the dbt step's own error is not listed again
    assert "Dagster 运行：http://dagster.firm.local:3000/runs/" in message
    assert "下一步：修正文件后重跑 `make nightly AS_OF=2026-11-20`" in message
    assert not (tmp_path / "published" / "current").exists()

    [report] = (tmp_path / "quality").glob("2026-11-20_*/data_docs/dbt_tests/index.html")
    assert f"质量报告：{report}" in message
    page = report.read_text(encoding="utf-8")
    assert "relationships_fct_invoices_client_id" in page and "invoice_id=AR_ORPHAN_01" in page
