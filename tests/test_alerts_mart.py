"""mart_alerts / mart_alert_history on a hand-made firm: each alert type present when its rule holds
and absent when it narrowly does not; stable ids, first-seen dates and closing across two nights.

Night 1 is 2026-10-22 (a Thursday; the October 2026 filing deadline is Monday 2026-10-26), night 2
is 2026-10-23. The renewal scores (ml table) are written by hand for night 1 only, so the alert
built on them closes on night 2. The forecast backtest is a dbt model: this firm's latest complete
month (September) has no collections, so its error is undefined and no forecast deviation alert is
raised (the deviation rule's positive cases: tests/test_forecast_baselines.py, mart_forecast_backtest).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest

from orchestration.models.ml_tables import write_table
from tests import dbt_helpers as h

NIGHT1, NIGHT2 = "2026-10-22", "2026-10-23"
TS = dt.datetime(2026, 10, 1, 8, 0)
D = dt.date.fromisoformat


def alert_id(alert_type: str, entity_id: str) -> str:
    return hashlib.md5(f"{alert_type}|{entity_id}".encode()).hexdigest()


def _client(cid, accountant):
    return h.client_row(cid, f"客户{cid}", taxpayer_type="general", industry="trade",
                      signed_date=D("2025-01-01"), accountant_id=accountant, sales_id="S3",
                      updated_at=TS)  # fmt: skip


def _contract(kid, client, start, end):
    return h.contract_row(kid, client, "500.00", start, end, updated_at=TS)


def _invoice(iid, client, issue, due, amount="1000.00"):
    return h.invoice_row(iid, client, issue, due, amount, updated_at=TS)


def _payment(pid, client, invoice, paid, amount="1000.00", payer=None):
    return h.payment_row(
        pid, paid, amount, client_id=client, invoice_id=invoice, payer_name=payer, updated_at=TS
    )


def _task(tid, client, stage, due, status, assignee="S2", period="2026-09", started=None, completed=None,
          depends_on=None):  # fmt: skip
    return h.task_row(tid, client, stage, due, status, period=period, assignee_id=assignee,
                      created_at="2026-10-01 08:00", started_at=started, completed_at=completed,
                      depends_on_task_id=depends_on, updated_at=TS)  # fmt: skip


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("alerts")
    path = tmp / "warehouse.duckdb"
    conn = h.new_raw_warehouse(path)
    h.insert_rows(conn, "staff", [
        h.staff_row("S1", "张会计", monthly_capacity=1, updated_at=TS),
        h.staff_row("S2", "李会计", monthly_capacity=10, updated_at=TS),
        h.staff_row("S3", "王销售", "sales", updated_at=TS),
    ])  # fmt: skip
    h.insert_rows(conn, "clients", [_client(c, "S1" if c in ("C1", "C2") else "S2")
                                  for c in ("C1", "C2", "C3", "C4", "C5", "C6")])  # fmt: skip
    h.insert_rows(conn, "contracts", [
        # 24 days left, p = 0.30 → expiring alert (also churn risk by probability, alerted once)
        _contract("K1", "C1", "2026-01-01", "2026-11-15"),
        _contract("K2", "C2", "2026-01-01", "2026-11-30"),  # p = 0.90 → no alert
        _contract("K3", "C4", "2026-01-01", "2027-06-30"),  # p = 0.10 but 251 days away → no alert
        _contract("K4", "C5", "2026-01-01", "2026-12-15"),  # unscored, complaint → churn risk by signals
        _contract("K5", "C6", "2026-01-01", "2026-12-20"),  # no distress → no churn risk
    ])  # fmt: skip
    h.insert_rows(conn, "invoices", [
        _invoice("I1", "C1", "2026-10-01", "2026-10-19"),  # 3 days past due on night 1 → overdue
        _invoice("I2", "C2", "2026-10-01", "2026-10-20"),  # 2 days → not yet (3 on night 2)
        # C3 paid 2 of 3 invoices more than 15 days late → chronic late payer
        _invoice("I3A", "C3", "2026-02-15", "2026-03-01"),
        _invoice("I3B", "C3", "2026-04-15", "2026-05-01"),
        _invoice("I3C", "C3", "2026-06-15", "2026-07-01"),
        # C4 paid 1 of 3 late → share 1/3 < 0.5 → not chronic
        _invoice("I4A", "C4", "2026-02-15", "2026-03-01"),
        _invoice("I4B", "C4", "2026-04-15", "2026-05-01"),
        _invoice("I4C", "C4", "2026-06-15", "2026-07-01"),
    ])  # fmt: skip
    h.insert_rows(conn, "payments", [
        _payment("P3A", "C3", "I3A", "2026-04-15"),  # 45 days late
        _payment("P3B", "C3", "I3B", "2026-06-01"),  # 31 days late
        _payment("P3C", "C3", "I3C", "2026-07-05"),  # 4 days late: within grace
        _payment("P4A", "C4", "I4A", "2026-04-15"),
        _payment("P4B", "C4", "I4B", "2026-05-01"),
        _payment("P4C", "C4", "I4C", "2026-07-01"),
        _payment("PU", None, None, "2026-10-10", "888.00", payer="无名氏"),  # unidentified
    ])  # fmt: skip
    h.insert_rows(
        conn, "feedback", [h.feedback_row("FB1", "C5", "2026-09-01", 2, is_complaint=True, updated_at=TS)]
    )
    h.insert_rows(conn, "tasks", [
        _task("D1", "C1", "document_collection", "2026-10-20", "todo"),  # 2 days late → alert
        _task("D2", "C2", "document_collection", "2026-10-21", "todo"),  # 1 day → not yet
        _task("D3", "C3", "document_collection", "2026-10-10", "done", started="2026-10-09 09:00",
              completed="2026-10-12 09:00"),  # done → nothing
        # filings due 2026-10-26: 3 working days left (22, 23, 26) → at risk unless done
        _task("F1", "C1", "tax_filing", "2026-10-26", "todo", assignee="S1"),
        _task("F2", "C2", "tax_filing", "2026-10-26", "done", assignee="S1", started="2026-10-20 09:00",
              completed="2026-10-21 09:00"),
        _task("B1", "C1", "bookkeeping", "2026-10-15", "todo"),  # 7 days overdue → task_overdue
        _task("B2", "C2", "bookkeeping", "2026-10-25", "todo"),  # not yet due
        _task("U1", "C2", "bookkeeping", "2026-10-18", "in_progress", started="2026-10-16 09:00"),
        _task("X1", "C2", "fee_collection", "2026-10-30", "todo", depends_on="U1"),  # upstream overdue
        _task("X2", "C1", "fee_collection", "2026-10-30", "todo", depends_on="B2"),  # upstream not due
        # S1 (capacity 1) carries 2 bookkeeping client-periods due in October, done on time → saturated
        _task("SB1", "C1", "bookkeeping", "2026-10-25", "done", assignee="S1", started="2026-10-19 09:00",
              completed="2026-10-20 09:00"),
        _task("SB2", "C2", "bookkeeping", "2026-10-25", "done", assignee="S1", started="2026-10-19 09:00",
              completed="2026-10-20 09:00"),
    ])  # fmt: skip
    # The Python models' outputs for night 1 only (hand-made).
    write_table(conn, "renewal_scores", pd.DataFrame({
        "as_of_date": [D(NIGHT1)] * 3, "contract_id": ["K1", "K2", "K3"], "client_id": ["C1", "C2", "C4"],
        "end_date": [D("2026-11-15"), D("2026-11-30"), D("2027-06-30")],
        "renewal_probability": [0.30, 0.90, 0.10], "is_renewed": [False] * 3, "model_name": ["hand"] * 3,
    }))  # fmt: skip
    conn.close()

    def alerts():
        rows = h.query(path, "select alert_id, alert_type, entity_id, severity, staff_id, client_id,"
                             " first_seen_date, message from marts.mart_alerts")  # fmt: skip
        return {r[0]: r[1:] for r in rows}

    def templates():
        rows = h.query(path, "select alert_type, entity_id, message, message_template, message_days,"
                             " message_days_since, message_days_until from marts.mart_alerts")  # fmt: skip
        return {(r[0], r[1]): r[2:] for r in rows}

    def history():
        return sorted(
            h.query(path, "select alert_id, opened_date, closed_date, is_open from marts.mart_alert_history")
        )

    h.run_dbt(
        ["build", "--select", "+mart_alerts", "--indirect-selection", "cautious"], path, NIGHT1, tmp / "t1"
    )
    night1, templates1 = alerts(), templates()
    h.run_dbt(
        ["build", "--select", "+mart_alerts", "--indirect-selection", "cautious"], path, NIGHT2, tmp / "t2"
    )
    night2, history2, templates2 = alerts(), history(), templates()
    h.run_dbt(["run", "--select", "mart_alert_history", "mart_alerts"], path, NIGHT2, tmp / "t3")  # rerun
    return {
        "night1": night1,
        "night2": night2,
        "history2": history2,
        "rerun": (alerts(), history()),
        "templates": (templates1, templates2),
    }


# Severity follows the priority score (doc metric_alert_priority: type weight + 30·min(1, sqrt(amount /
# 20000)) + urgency + client status + trend; high ≥ 65, medium ≥ 40). Every client here is active (10):
#   I1   10 + 30·sqrt(0.05) 6.71 + 25·3/60 1.25 + 10                    = 28.0 low
#   C3   10 + 0 (owes nothing) + 0 + 10 (late share 2/3 < 0.8: not worsening) = 20.0 low
#   K1   20 + 30·sqrt(6000/20000) 16.43 + 25·(1 − 24/30) 5 + 10           = 51.4 medium
#   K4   15 + 16.43 + 0 (54 days left) + 10 + 10 (a complaint)            = 51.4 medium
#   D1   15 + 0 + 25 (past due) + 10 = 50 medium;  B1, U1 likewise 50 medium
#   F1   30 + 0 + 25·(1 − 4/30) 21.67 + 10                                = 61.7 medium
#   X1   10 + 0 + 25·(1 − 8/30) 18.33 + 10                                = 38.3 low
#   S1   15 + 0 + 0 + 5 + 10 (load 200 %)                                 = 30.0 low
#   PU   10 + 30·sqrt(888/20000) 6.32 + 25·12/60 5 + 5                    = 26.3 low
EXPECTED_NIGHT1 = {
    ("invoice_overdue", "I1"): ("low", "S1", "C1"),
    ("chronic_late_payer", "C3"): ("low", "S2", "C3"),
    ("contract_expiring_low_renewal", "K1"): ("medium", "S3", "C1"),
    ("renewal_churn_risk", "K4"): ("medium", "S2", "C5"),
    ("document_collection_late", "D1"): ("medium", "S2", "C1"),
    ("filing_at_risk", "F1"): ("medium", "S1", "C1"),
    ("task_overdue", "B1"): ("medium", "S2", "C1"),
    ("task_overdue", "U1"): ("medium", "S2", "C2"),
    ("task_blocked", "X1"): ("low", "S2", "C2"),
    ("staff_saturation", "S1"): ("low", "S1", None),
    ("unidentified_receipt", "PU"): ("low", None, None),
}


def test_each_type_present_exactly_when_its_rule_holds(nights):
    got = {(v[0], v[1]): (v[2], v[3], v[4]) for v in nights["night1"].values()}
    assert got == EXPECTED_NIGHT1  # nothing else: I2, C4, K2, K3, K5, D2, D3, F2, B2, X2, S2 absent


def test_alert_ids_are_stable_hashes(nights):
    for aid, (atype, entity, *_rest) in nights["night1"].items():
        assert aid == alert_id(atype, entity)
    assert set(nights["night1"]) & set(nights["night2"]) >= {alert_id("invoice_overdue", "I1")}


def test_messages_are_chinese_and_specific(nights):
    msg = nights["night1"][alert_id("invoice_overdue", "I1")][-1]
    assert msg == "客户「客户C1」账单 I1 已逾期 3 天，未收金额 ¥1,000.00"
    msg = nights["night1"][alert_id("staff_saturation", "S1")][-1]
    assert msg == "张会计 本月负责 2 户，产能 1 户，负荷 200%"


def test_second_night_opens_closes_and_keeps_first_seen(nights):
    n2 = nights["night2"]
    # still open: first seen on night 1
    assert n2[alert_id("invoice_overdue", "I1")][5] == D(NIGHT1)
    # new on night 2: I2 is now 3 days past due, D2 two days late
    assert n2[alert_id("invoice_overdue", "I2")][5] == D(NIGHT2)
    assert n2[alert_id("document_collection_late", "D2")][5] == D(NIGHT2)
    # the ml rows exist for night 1 only: those alerts disappear and their episodes close on night 2
    gone = {alert_id("contract_expiring_low_renewal", "K1")}
    assert not gone & set(n2)
    closed = {(a, o, c) for a, o, c, is_open in nights["history2"] if not is_open}
    assert closed == {(a, D(NIGHT1), D(NIGHT2)) for a in gone}
    assert len(nights["history2"]) == len(set(nights["night1"]) | set(n2))


def test_rerun_of_the_same_night_is_idempotent(nights):
    alerts, history = nights["rerun"]
    assert alerts == nights["night2"]
    assert history == nights["history2"]


# The messages with a day count moving with the as-of date, on night 1 (2026-10-22) and night 2: the
# count, its date and the template around it (every count worked out from the dates above).
TEMPLATED = {
    # I1 due 10-19: 3 days past due, 4 on night 2
    ("invoice_overdue", "I1"): (
        "客户「客户C1」账单 I1 已逾期 {days} 天，未收金额 ¥1,000.00",
        D("2026-10-19"),
        None,
    ),
    # K1 ends 11-15: 24 days left (night 1 only: its renewal score is night 1's)
    ("contract_expiring_low_renewal", "K1"): (
        "客户「客户C1」合同 K1 将于 2026-11-15 到期（剩 {days} 天），续约概率仅 30%",
        None,
        D("2026-11-15"),
    ),
    # D1 due 10-20: 2 days; D2 due 10-21 (night 2: 2 days)
    ("document_collection_late", "D1"): (
        "客户「客户C1」2026-09 票据采集已超期 {days} 天未完成",
        D("2026-10-20"),
        None,
    ),
    ("document_collection_late", "D2"): (
        "客户「客户C2」2026-09 票据采集已超期 {days} 天未完成",
        D("2026-10-21"),
        None,
    ),
    # B1 due 10-15: 7 days; U1 due 10-18: 4 days
    ("task_overdue", "B1"): ("客户「客户C1」记账任务 B1 已逾期 {days} 天", D("2026-10-15"), None),
    ("task_overdue", "U1"): ("客户「客户C2」记账任务 U1 已逾期 {days} 天", D("2026-10-18"), None),
    # X1 waits on U1 (due 10-18): the upstream is 4 days late
    ("task_blocked", "X1"): (
        "客户「客户C2」收款任务 X1 被上游任务 U1（记账，李会计）阻塞，上游已逾期 {days} 天",
        D("2026-10-18"),
        None,
    ),
    # I2 due 10-20: 3 days on night 2
    ("invoice_overdue", "I2"): (
        "客户「客户C2」账单 I2 已逾期 {days} 天，未收金额 ¥1,000.00",
        D("2026-10-20"),
        None,
    ),
}


@pytest.mark.parametrize("night", [0, 1])
def test_message_templates_give_the_message_and_its_day_count(nights, night):
    as_of = D((NIGHT1, NIGHT2)[night])
    got = nights["templates"][night]
    expected_keys = {k for k, (_, since, until) in TEMPLATED.items() if k in got}
    assert {k for k, v in got.items() if v[1] is not None} == expected_keys
    assert len(expected_keys) == (6 if night == 0 else 7)  # K1 gone on night 2, I2 and D2 new
    for key in expected_keys:
        template, since, until = TEMPLATED[key]
        days = (as_of - since).days if since else (until - as_of).days
        message, got_template, got_days, got_since, got_until = got[key]
        assert (got_template, got_days, got_since, got_until) == (template, days, since, until), key
        assert message == template.replace("{days}", str(days)), key  # the full text, as before
    # the others carry no template: no count, or one that does not move by calendar days
    for key, (_message, template, days, since, until) in got.items():
        if key not in expected_keys:
            assert (template, since, until) == (None, None, None), key
            assert days is None or key[0] == "renewal_churn_risk", key
    if night == 0:
        assert got[("invoice_overdue", "I1")][0] == "客户「客户C1」账单 I1 已逾期 3 天，未收金额 ¥1,000.00"
        assert got[("contract_expiring_low_renewal", "K1")][0].endswith("（剩 24 天），续约概率仅 30%")
        # C5 owes nothing: 最长逾期 0 天, a count that does not move, written into the text
        churn = got[("renewal_churn_risk", "K4")]
        assert churn[0].endswith("，最长逾期 0 天）") and churn[2] == 0
    else:
        assert got[("invoice_overdue", "I1")][0] == "客户「客户C1」账单 I1 已逾期 4 天，未收金额 ¥1,000.00"
