"""Ops notifications: one clear Chinese message, sent through apprise, always kept in a JSONL log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import apprise

from orchestration import settings

HELD_BACK = "本次发布已暂停，报表保持上一版本。"
LEVELS = {"error": "错误", "warning": "警告", "info": "通知"}
_APPRISE_TYPES = {
    "error": apprise.NotifyType.FAILURE,
    "warning": apprise.NotifyType.WARNING,
    "info": apprise.NotifyType.INFO,
}


def format_alert(title: str, body: str, *, level: str, context: dict) -> tuple[str, str]:
    """Title and text. Context keys used when present: as_of_date, run_id, asset, rows,
    details_path, held_back (bool), failures (list of one-line strings)."""
    head = f"【运营中心·{LEVELS.get(level, level)}】{title}"
    lines = [body.strip()] if body.strip() else []
    if context.get("as_of_date"):
        lines.append(f"数据日期：{context['as_of_date']}")
    if context.get("asset"):
        lines.append(f"涉及资产：{context['asset']}")
    if context.get("rows") is not None:
        lines.append(f"涉及行数：{context['rows']}")
    for item in context.get("failures") or []:
        lines.append(f"- {item}")
    if context.get("run_id"):
        lines.append(f"运行编号：{context['run_id']}")
    if context.get("details_path"):
        lines.append(f"详情：{context['details_path']}")
    if context.get("held_back"):
        lines.append(HELD_BACK)
    return head, "\n".join(lines)


def redact_url(url: str) -> str:
    """Scheme and host only, plus a short hash to tell URLs apart: tokens never reach the log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"{parts.scheme}://{host}{port}/… #{digest}"


def deliver(url: str, title: str, text: str, level: str) -> dict:
    """Send one message to one apprise URL; never raises (the result says what happened)."""
    app = apprise.Apprise()
    if not app.add(url):
        return {"url": redact_url(url), "ok": False, "error": "invalid apprise url"}
    try:
        ok = bool(app.notify(title=title, body=text, notify_type=_APPRISE_TYPES.get(level)))
    except Exception as exc:  # a broken notifier must not stop the log line
        return {"url": redact_url(url), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"url": redact_url(url), "ok": ok} | ({} if ok else {"error": "delivery failed"})


def send_ops_alert(title: str, body: str, *, level: str, context: dict) -> dict:
    """Send to every URL in $OPSCENTER_ALERT_URLS and append the record to the alert log.

    Returns the record written: time, level, title, text, context, per-URL delivery result.
    """
    head, text = format_alert(title, body, level=level, context=context)
    deliveries = [deliver(url, head, text, level) for url in settings.alert_urls()]
    record = {
        "sent_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "level": level,
        "title": head,
        "text": text,
        "context": context,
        "deliveries": deliveries,
        "delivered": any(d["ok"] for d in deliveries),
    }
    log_path: Path = settings.alert_log_path()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return record
