"""The gate mechanism: a failed blocking check holds back the downstream asset; sensors alert once."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import duckdb
import pytest
from dagster import DagsterEventType

from orchestration.checks import build_quality_checks, gated_asset_keys
from orchestration.resources import WarehouseResource
from orchestration.sensors import ops_quality_warning_alert, ops_run_failure_alert
from tests.quality_fixtures import AS_OF, build_warehouse

PAYMENTS = dg.AssetKey(["core", "fct_payments"])


@pytest.fixture(scope="module")
def clean_warehouse(tmp_path_factory):
    return build_warehouse(tmp_path_factory.mktemp("wh") / "wh.duckdb")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSCENTER_QUALITY_DIR", str(tmp_path / "quality"))
    monkeypatch.setenv("OPSCENTER_ALERT_LOG", str(tmp_path / "alerts.jsonl"))
    monkeypatch.delenv("OPSCENTER_ALERT_URLS", raising=False)
    return tmp_path


def _run(tmp_path, warehouse, sql: str | None):
    wh = tmp_path / "wh.duckdb"
    shutil.copy(warehouse, wh)
    if sql:
        with duckdb.connect(str(wh)) as conn:
            conn.execute(sql)
    marker = tmp_path / "published.txt"

    @dg.asset(key=PAYMENTS)
    def fct_payments():
        """Stands in for the dbt model; the table is already in the warehouse."""

    @dg.asset(deps=[PAYMENTS])
    def publish():
        marker.write_text("published")

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [fct_payments, publish, build_quality_checks(asset_keys=[PAYMENTS], name="quality_gate")],
        resources={"warehouse": WarehouseResource(path=str(wh))},
        run_config={"ops": {"quality_gate": {"config": {"as_of_date": AS_OF.isoformat()}}}},
        instance=instance,
        raise_on_error=False,
    )
    return result, instance, marker


def _evaluations(result):
    return {e.check_name: (e.passed, e.severity) for e in result.get_asset_check_evaluations()}


def _sensor_context(instance, result, status: DagsterEventType, name: str):
    record = instance.get_records_for_run(result.run_id, of_type=status).records[0]
    return dg.build_run_status_sensor_context(
        sensor_name=name,
        dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
    )


def _alerts(tmp_path):
    path = tmp_path / "alerts.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_green_gate_lets_downstream_run(env, clean_warehouse):
    result, _, marker = _run(env, clean_warehouse, None)
    assert result.success
    assert all(passed for passed, _ in _evaluations(result).values())
    assert dg.AssetKey("publish") in {e.asset_key for e in result.get_asset_materialization_events()}
    assert marker.read_text() == "published"
    docs = list((env / "quality").glob("2026-11-20_*/data_docs/quality_gate/index.html"))
    assert len(docs) == 1


def test_failed_blocking_check_holds_back_downstream_and_alerts_once(env, clean_warehouse):
    result, instance, marker = _run(
        env, clean_warehouse, "update core.fct_payments set amount = -5 where payment_id = 'P3'"
    )
    assert not result.success
    evals = _evaluations(result)
    assert evals["payment_amount_range"] == (False, dg.AssetCheckSeverity.ERROR)
    assert evals["payment_unidentified_share"] == (True, dg.AssetCheckSeverity.ERROR)
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert PAYMENTS in materialized
    assert dg.AssetKey("publish") not in materialized
    assert not marker.exists()

    ctx = _sensor_context(instance, result, DagsterEventType.RUN_FAILURE, "ops_run_failure_alert")
    ops_run_failure_alert(ctx.for_run_failure())
    [alert] = _alerts(env)
    assert alert["level"] == "error"
    assert alert["title"] == "【运营中心·错误】夜间运行失败（1 项）"
    assert (
        "1. 收款金额在 (0, 上限] 内（payment_amount_range）· core/fct_payments：1 行；示例：-5"
        in alert["text"]
    )
    assert "涉及资产：core/fct_payments" in alert["text"]
    assert "涉及行数：1" in alert["text"]
    assert "本次发布已暂停，报表保持上一版本" in alert["text"]
    assert alert["context"]["as_of_date"] == "2026-11-20"
    [report] = [d for d in alert["context"]["details"] if d.startswith("质量报告：")]
    assert report.endswith("data_docs/quality_gate/index.html")
    assert "下一步：修正文件后重跑 `make nightly AS_OF=2026-11-20`" in alert["text"]


def test_failed_warn_check_does_not_block_and_warns(env, clean_warehouse):
    # 60 earlier payments by bank transfer, then every payment of the window through wechat: the
    # dominant channel's share jumped from 0 to 1.0 against the firm's own history (warn)
    result, instance, marker = _run(
        env,
        clean_warehouse,
        "insert into core.fct_payments select 'H' || i, 100::DECIMAL, DATE '2026-11-20' - (40 + i)::INTEGER, "
        "'bank_transfer', 'client_id' from range(60) r(i); update core.fct_payments set channel = 'wechat' "
        "where payment_id like 'P%'",
    )
    assert result.success
    failed = {k: v for k, v in _evaluations(result).items() if not v[0]}
    assert failed == {"payment_channel_concentration": (False, dg.AssetCheckSeverity.WARN)}
    assert marker.read_text() == "published"

    ctx = _sensor_context(instance, result, DagsterEventType.RUN_SUCCESS, "ops_quality_warning_alert")
    ops_quality_warning_alert(ctx)
    [alert] = _alerts(env)
    assert alert["level"] == "warning"
    assert "payment_channel_concentration" in alert["text"]
    assert "发布已暂停" not in alert["text"]


def test_gated_keys_cover_core_and_raw():
    keys = set(gated_asset_keys())
    assert {PAYMENTS, dg.AssetKey(["raw", "payments"]), dg.AssetKey(["core", "fct_tasks"])} <= keys


def test_raw_gate_holds_back_dbt_and_publish_in_one_job(env, clean_warehouse):
    """The nightly shape: loader -> dbt multi-asset -> publish, raw and core gates in one job."""
    raw_key = dg.AssetKey(["raw", "payments"])
    wh = env / "wh.duckdb"
    shutil.copy(clean_warehouse, wh)
    with duckdb.connect(str(wh)) as conn:  # tonight 20 of 117 payment rows rejected: 17% > 5%
        conn.execute(
            "update raw.load_runs set rows_rejected = 20, rows_read = 117 "
            "where load_id = 'T1' and entity = 'payments'"
        )

    @dg.asset(key=raw_key)
    def raw_payments():
        pass

    @dg.multi_asset(specs=[dg.AssetSpec(PAYMENTS, deps=[raw_key])])
    def dbt_models():
        yield dg.MaterializeResult(asset_key=PAYMENTS)

    @dg.asset(deps=[PAYMENTS, raw_key])
    def publish():
        pass

    checks = [
        build_quality_checks("raw", asset_keys=[raw_key]),
        build_quality_checks("core", asset_keys=[PAYMENTS]),
    ]
    job = dg.define_asset_job("nightly", selection=dg.AssetSelection.all())
    defs = dg.Definitions(
        assets=[raw_payments, dbt_models, publish],
        asset_checks=checks,
        jobs=[job],
        resources={"warehouse": WarehouseResource(path=str(wh))},
    )
    config = {"config": {"as_of_date": AS_OF.isoformat()}}
    result = defs.resolve_job_def("nightly").execute_in_process(
        run_config={"ops": {"raw_quality_gate": config, "core_quality_gate": config}},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {"reject_share_payments"}
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {raw_key}  # dbt and publish held back
