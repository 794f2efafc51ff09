"""Alerts ranked by what to do today, on a hand-made firm as of 2026-10-22 (scores worked out below).

priority = type weight + 30·min(1, sqrt(amount / 20000)) + urgency + client status + trend (doc
metric_alert_priority); high ≥ 65, medium ≥ 40.

Clients: A 甲科技 (active), B 乙商贸 (active), M 北京卓宝贸易有限公司 (active), N 北京华信科技有限公司
(active), Z 丁餐饮 (churned), Y 戊建筑 (churned).
  IBIG  A ¥20,000 due 08-23 (60 days): 10 + 30 + 25·60/60 + 10 + 10 (A has two overdue) = 85.0 high
  ISML  A ¥500   due 10-12 (10 days): 10 + 30·sqrt(0.025) 4.743 + 25·10/60 4.167 + 10 + 10 = 38.9 low
  IOLD  B ¥8,600 due 2025-09-01 (416 days > 365): 坏账核销候选, severity low,
        score 10 + 30·sqrt(0.43) 19.672 + 25 + 10 = 64.7
  IM    M ¥2,100 due 10-15, and PM ¥2,100 received 10-16 from 卓宝贸易（个人） (unidentified): one
        疑似对应账单 alert for PM (client M): 20 + 30·sqrt(0.105) 9.721 + 25·6/60 2.5 + 10 = 42.2 medium;
        no invoice_overdue for IM and no unidentified_receipt for PM.
  IN    N ¥2,100 due 10-15 (7 days), same amount but the name does not resemble: stays an overdue
        invoice: 10 + 9.721 + 25·7/60 2.917 + 10 = 32.6 low
  PX    ¥2,100 received 10-16 from 无名氏: unidentified: 10 + 9.721 + 2.5 + 5 (no client) = 27.2 low
  IZ    Z (churned) ¥1,000 due 09-01, open but marked paid by the source: nothing.
  Y     churned, three invoices paid 40 days late, owes nothing: no chronic-late-payer alert.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from tests import dbt_helpers as h

AS_OF = "2026-10-22"
TS = dt.datetime(2026, 10, 21, 8, 0)


def alert_id(alert_type: str, entity_id: str) -> str:
    return hashlib.md5(f"{alert_type}|{entity_id}".encode()).hexdigest()


@pytest.fixture(scope="module")
def alerts(tmp_path_factory):
    # Y: three invoices due on the 10th, each paid in full on the 20th
    late_y = [h.paid_invoice(f"IY{k}", "Y", f"2026-0{k}-01", f"2026-0{k}-10", f"2026-0{k}-20", "300",
                             updated_at=TS) for k in (3, 4, 5)]  # fmt: skip
    raw = {
        "staff": [h.accountant_row(updated_at=TS)],
        "clients": [
            h.client_row("A", "甲科技", updated_at=TS), h.client_row("B", "乙商贸", updated_at=TS),
            h.client_row("M", "北京卓宝贸易有限公司", updated_at=TS),
            h.client_row("N", "北京华信科技有限公司", updated_at=TS),
            h.client_row("Z", "丁餐饮", updated_at=TS, status="churned"),
            h.client_row("Y", "戊建筑", updated_at=TS, status="churned"),
        ],
        "invoices": [
            h.invoice_row("IBIG", "A", "2026-07-24", "2026-08-23", "20000", updated_at=TS),
            h.invoice_row("ISML", "A", "2026-09-12", "2026-10-12", "500", updated_at=TS),
            h.invoice_row("IOLD", "B", "2025-08-01", "2025-09-01", "8600", updated_at=TS),
            h.invoice_row("IM", "M", "2026-10-01", "2026-10-15", "2100", updated_at=TS),
            h.invoice_row("IN", "N", "2026-10-01", "2026-10-15", "2100", updated_at=TS),
            h.invoice_row("IZ", "Z", "2026-08-01", "2026-09-01", "1000", updated_at=TS, status="paid"),
            *[invoice for invoice, _ in late_y],
        ],
        "payments": [
            h.payment_row("PM", "2026-10-16", "2100", updated_at=TS, payer_name="卓宝贸易（个人）"),
            h.payment_row("PX", "2026-10-16", "2100", updated_at=TS, payer_name="无名氏"),
            *[payment for _, payment in late_y],
        ],
    }  # fmt: skip
    path = h.build_warehouse(
        tmp_path_factory.mktemp("priority"), AS_OF, ["+mart_alerts", "+mart_alert_summary"], raw
    )
    rows = h.query(
        path,
        "select alert_list, priority_rank, alert_type, entity_id, client_id, severity, priority_score"
        " from marts.mart_alerts order by alert_list, priority_rank",
    )
    summary = h.query(
        path,
        "select alert_list, alert_type, open_alerts, high_alerts, medium_alerts, low_alerts"
        " from marts.mart_alert_summary order by summary_key",
    )
    ids = h.query(path, "select alert_id, alert_type, entity_id from marts.mart_alerts")
    message = h.query(
        path, "select message from marts.mart_alerts where alert_type = 'receipt_invoice_match'"
    )[0][0]
    return {"rows": rows, "summary": summary, "message": message, "ids": ids}


def test_action_list_in_priority_order(alerts):
    action = [r[1:] for r in alerts["rows"] if r[0] == "action"]
    assert action == [
        (1, "invoice_overdue", "IBIG", "A", "high", 85.0),
        (2, "receipt_invoice_match", "PM", "M", "medium", 42.2),
        (3, "invoice_overdue", "ISML", "A", "low", 38.9),
        (4, "invoice_overdue", "IN", "N", "low", 32.6),
        (5, "unidentified_receipt", "PX", None, "low", 27.2),
    ]


def test_old_items_go_to_write_off_review(alerts):
    review = [r[1:] for r in alerts["rows"] if r[0] == "write_off_review"]
    assert review == [(1, "invoice_overdue", "IOLD", "B", "low", 64.7)]


def test_receipt_and_invoice_are_one_suggestion(alerts):
    assert alerts["message"] == (
        "2026-10-16 收到「卓宝贸易（个人）」¥2,100.00，疑似对应客户「北京卓宝贸易有限公司」账单 IM"
        "（2026-10-01 开具，未收 ¥2,100.00）：请核对后确认入账"
    )
    entities = {r[3] for r in alerts["rows"]}
    assert "IM" not in entities  # the matched invoice raises no overdue alert of its own
    assert not {"IZ", "Y"} & entities  # source-settled, churned-and-settled: nothing


def test_summary_counts(alerts):
    assert ("action", "all", 5, 1, 1, 3) in alerts["summary"]
    assert ("write_off_review", "all", 1, 0, 0, 1) in alerts["summary"]
    assert ("action", "invoice_overdue", 3, 1, 0, 2) in alerts["summary"]


def test_alert_ids_stay_stable_hashes(alerts):
    # the id is still md5(type|entity) (mart_alert_history relies on it); a match is keyed by its receipt
    assert len(alerts["ids"]) == 6
    assert all(aid == alert_id(t, e) for aid, t, e in alerts["ids"])
