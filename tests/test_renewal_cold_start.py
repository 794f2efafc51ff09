"""A firm where no contract has ended yet (cold start), hand-made, as of 2026-06-30: the renewal step
publishes rule-based scores marked as such and never crashes, the tiers follow their rules, the
action fits the days left, and the forecast still runs. Then the same contracts with hand-written
model probabilities: the rules still apply next to the model.

Three monthly bookkeeping contracts signed 2025-12-20, 2026-01-01 .. end, none ended:
  K1 C1 300/month  (annualized 3,600), ends 2026-07-10 (10 days left); C1 complained on 2026-05-01,
     scoring 1 (satisfaction 1 < 3.5 too).
  K2 C2 1,000/month (12,000), ends 2026-09-15 (77 days); paid on time.
  K3 C3 200/month  (2,400), ends 2026-08-20 (51 days); its 2026-04-01 invoice (due 04-15) unpaid,
     76 days late > 30 → overdue share 1 > 0.3.
High-value threshold = 75th percentile of 2,400 / 3,600 / 12,000 = 3,600 + 0.5 × 8,400 = 7,800.
Rules only: K1 churn_risk (low satisfaction, complaint), K2 high_value, K3 churn_risk (overdue).
Actions: K1 "距到期仅剩 10 天，立即处理：…", by min(end, max(as_of + 7, end − 90)) = 07-07;
  K2 still more than 60 days out → the 60-days-ahead text, by max(07-14, 09-15 − 60 = 07-17) = 07-17;
  K3 churn within 90 days → the act-now text, by 07-07.
With probabilities K1 0.95, K2 0.30, K3 0.90: K2 churn_risk (model), K3 still churn_risk (rule).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from orchestration.models import renewal
from orchestration.models.ml_tables import write_table
from tests import dbt_helpers as h

AS_OF = dt.date(2026, 6, 30)
TS = dt.datetime(2026, 6, 30, 20, 0)
MARTS = [
    "mart_renewal_scores",
    "mart_renewals_upcoming",
    "mart_collection_forecast",
    "mart_forecast_accuracy",
]


def _contract(kid, cid, fee, end):
    return {"contract_id": kid, "client_id": cid, "service_type": "bookkeeping", "billing_cycle": "monthly",
            "fee_per_cycle": Decimal(fee), "signed_date": dt.date(2025, 12, 20),
            "start_date": dt.date(2026, 1, 1), "end_date": dt.date.fromisoformat(end), "status": "active",
            "updated_at": TS}  # fmt: skip


@pytest.fixture(scope="module")
def firm(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cold_start")
    path = tmp / "warehouse.duckdb"
    conn = h.new_raw_warehouse(path)
    h.insert_rows(conn, "staff", [h.accountant_row(updated_at=TS)])
    h.insert_rows(conn, "clients", [h.client_row(c, f"{c}公司", updated_at=TS) for c in ("C1", "C2", "C3")])
    h.insert_rows(conn, "contracts", [_contract("K1", "C1", "300.00", "2026-07-10"),
                                    _contract("K2", "C2", "1000.00", "2026-09-15"),
                                    _contract("K3", "C3", "200.00", "2026-08-20")])  # fmt: skip
    h.insert_rows(conn, "invoices", [
        h.invoice_row("I1", "C1", "2026-06-01", "2026-06-15", "300.00", updated_at=TS, contract_id="K1"),
        h.invoice_row("I2", "C2", "2026-05-01", "2026-05-15", "1000.00", updated_at=TS, contract_id="K2"),
        h.invoice_row("I3", "C3", "2026-04-01", "2026-04-15", "200.00", updated_at=TS, contract_id="K3"),
    ])  # fmt: skip
    h.insert_rows(conn, "payments", [
        h.payment_row("P1", "2026-06-10", "300.00", updated_at=TS, invoice_id="I1", client_id="C1"),
        h.payment_row("P2", "2026-05-10", "1000.00", updated_at=TS, invoice_id="I2", client_id="C2"),
    ])  # fmt: skip
    complaint = {"feedback_id": "F1", "client_id": "C1", "feedback_date": dt.date(2026, 5, 1), "score": 1,
                 "is_complaint": True, "category": "记账差错", "updated_at": TS}  # fmt: skip
    h.insert_rows(conn, "feedback", [complaint])
    conn.close()
    as_of = AS_OF.isoformat()
    h.run_dbt(["build", "--select", "+int_contract_renewal_features", "--indirect-selection", "cautious"],
            path, as_of, tmp / "t1")  # fmt: skip
    with duckdb.connect(str(path)) as conn:
        scores, evaluation = renewal.train_and_score(conn, AS_OF)
        write_table(conn, "renewal_scores", scores)
        write_table(conn, "renewal_model_evaluation", evaluation)
    select = [f"+{m}" for m in MARTS]
    h.run_dbt(["build", "--select", *select, "--indirect-selection", "cautious"], path, as_of, tmp / "t2")

    def upcoming():
        with duckdb.connect(str(path), read_only=True) as c:
            return c.execute(
                "select contract_id, segment, segment_basis, churn_reasons_cn, days_to_end,"
                " recommended_action, action_by_date from marts.mart_renewals_upcoming order by contract_id"
            ).fetchall()

    with duckdb.connect(str(path), read_only=True) as c:
        out = {
            "scores": scores,
            "evaluation": evaluation,
            "mart_scores": c.execute(
                "select contract_id, renewal_probability, probability_band, model_name"
                " from marts.mart_renewal_scores order by contract_id"
            ).fetchall(),
            "forecast": c.execute(
                "select horizon, expected_amount from marts.mart_collection_forecast"
                " where scope_type = 'firm'"
            ).fetchall(),
        }
    out["rules"] = upcoming()
    with duckdb.connect(str(path)) as conn:
        write_table(conn, "renewal_scores", scores.assign(
            renewal_probability=scores["contract_id"].map({"K1": 0.95, "K2": 0.30, "K3": 0.90}),
            model_name="hand"))  # fmt: skip
    # the scores and the segments are computed in int_ models the two marts publish
    models = ["int_renewal_scores", "int_renewal_segments", "mart_renewal_scores", "mart_renewals_upcoming"]
    h.run_dbt(["build", "--select", *models], path, as_of, tmp / "t3")
    out["model"] = upcoming()
    return out


def test_no_ended_contract_publishes_rule_based_scores(firm):
    scores = firm["scores"]
    assert list(scores["contract_id"]) == ["K1", "K2", "K3"]
    assert set(scores["model_name"]) == {renewal.RULES_NAME}
    assert scores["renewal_probability"].isna().all()
    assert firm["evaluation"].empty
    assert firm["mart_scores"] == [(k, None, "rules_only", "rules_only") for k in ("K1", "K2", "K3")]


def test_rule_tiers_and_actions_fit_the_days_left(firm):
    rows = {r[0]: r[1:] for r in firm["rules"]}
    assert rows["K1"][:4] == ("churn_risk", "rules", "满意度低；有投诉", 10)
    assert rows["K1"][4].startswith("距到期仅剩 10 天，立即处理：主管 7 日内回访")
    assert rows["K1"][5] == dt.date(2026, 7, 7)
    assert rows["K2"][:4] == ("high_value", "rules", "", 77)
    assert rows["K2"][4].startswith("负责会计与销售在到期前 60 天上门沟通续约")
    assert rows["K2"][5] == dt.date(2026, 7, 17)
    assert rows["K3"][:4] == ("churn_risk", "rules", "经常逾期付款", 51)
    assert rows["K3"][4].startswith("主管 7 日内回访") and rows["K3"][5] == dt.date(2026, 7, 7)


def test_rules_still_apply_when_the_model_scores(firm):
    rows = {r[0]: r[1:4] for r in firm["model"]}
    assert rows == {
        "K1": ("churn_risk", "model_and_rules", "满意度低；有投诉"),
        "K2": ("churn_risk", "model_and_rules", "模型续约概率低"),
        "K3": ("churn_risk", "model_and_rules", "经常逾期付款"),  # 0.90 but 100 % overdue: never 高价值
    }


def test_forecast_still_runs(firm):
    got = dict(firm["forecast"])
    assert set(got) == {"month_1", "month_2", "month_3", "next_quarter"}
    assert all(isinstance(v, float) and v >= 0 for v in got.values())
    assert pd.notna(got["month_1"])
