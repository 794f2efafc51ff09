"""Ops notifications: one clear Chinese message, sent through apprise, always kept in a JSONL log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import apprise

from orchestration import settings
from orchestration.publish.masking import mask_text

HELD_BACK = "本次发布已暂停，报表保持上一版本。"
LEVELS = {"error": "错误", "warning": "警告", "info": "通知"}
_APPRISE_TYPES = {
    "error": apprise.NotifyType.FAILURE,
    "warning": apprise.NotifyType.WARNING,
    "info": apprise.NotifyType.INFO,
}


MAX_ITEMS = 15  # failure lines listed; the rest are counted
MAX_ITEM_CHARS = 400
MAX_TEXT_CHARS = 3500  # whole message: the cause comes first, so a cut only loses the tail


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _items(items: list[str]) -> list[str]:
    shown = enumerate(items[:MAX_ITEMS], 1)
    lines = [f"{i}. {_clip(' '.join(str(x).split()), MAX_ITEM_CHARS)}" for i, x in shown]
    if len(items) > MAX_ITEMS:
        lines.append(f"……另有 {len(items) - MAX_ITEMS} 项，见详情")
    return lines


def _context_lines(context: dict) -> list[str]:
    lines = []
    if context.get("as_of_date"):
        lines.append(f"数据日期：{context['as_of_date']}")
    if context.get("asset"):
        lines.append(f"涉及资产：{_clip(str(context['asset']), MAX_ITEM_CHARS)}")
    if context.get("rows") is not None:
        lines.append(f"涉及行数：{context['rows']}")
    if context.get("failures"):
        lines += ["失败项：", *_items(list(context["failures"]))]
    if context.get("warnings"):
        lines += ["预警项：", *_items(list(context["warnings"]))]
    if context.get("run_id"):
        lines.append(f"运行编号：{context['run_id']}")
    if context.get("details_path"):
        lines.append(f"详情：{context['details_path']}")
    lines += [f"- {d}" for d in context.get("details") or []]
    if context.get("next_step"):
        lines.append(f"下一步：{context['next_step']}")
    return lines


def format_alert(title: str, body: str, *, level: str, context: dict) -> tuple[str, str]:
    """Title and text, personal data masked, at most MAX_TEXT_CHARS with the cause first.

    Context keys used when present: as_of_date, asset, rows, failures and warnings (lists of one-line
    strings), run_id, details_path, details (list of "where to look" lines), next_step, held_back."""
    head = f"【运营中心·{LEVELS.get(level, level)}】{_clip(mask_text(title), 120)}"
    body = mask_text(body.strip())  # masked before any cut, so no half number survives
    lines = [_clip(body, MAX_ITEM_CHARS * 2)] if body else []
    lines += _context_lines(bounded(context))
    if context.get("held_back"):
        lines.append(HELD_BACK)
    return head, _clip(mask_text("\n".join(lines)), MAX_TEXT_CHARS)


def bounded(value):
    """`value` (JSON-able) with personal data masked and every string cut to a readable length."""
    if isinstance(value, str):
        return _clip(mask_text(value), MAX_ITEM_CHARS * 2)
    if isinstance(value, dict):
        return {str(k): bounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [bounded(v) for v in value]
    return value if value is None or isinstance(value, bool | int | float) else bounded(str(value))


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
        "context": bounded(context),
        "deliveries": deliveries,
        "delivered": any(d["ok"] for d in deliveries),
    }
    log_path: Path = settings.alert_log_path()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return record
