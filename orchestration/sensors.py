"""Ops sensors: one Chinese alert per finished run with problems, and one for raw data gone stale.

Dedupe: every run ends in exactly one status, so a failed run is reported once by the failure sensor
(its failed blocking checks, or else the step error) and a successful run with failed warn checks
once by the success sensor. Neither opens the warehouse (a sensor must never hold the DuckDB lock
the nightly job needs); they read the Dagster event log only.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import dagster as dg
from dagster import DagsterEventType

from orchestration import settings
from orchestration.contract import ENTITIES, REQUIRED_ENTITIES
from orchestration.ops_alerts import send_ops_alert

AS_OF_TAG = "opscenter/as_of_date"


def failed_check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list:
    """The run's failed asset check evaluations (AssetCheckEvaluation), errors first."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    evals = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    failed = [e for e in evals if not e.passed]
    return sorted(
        failed, key=lambda e: (e.severity != dg.AssetCheckSeverity.ERROR, e.asset_key.to_user_string())
    )


def _meta(evaluation, key: str):
    value = evaluation.metadata.get(key)
    return getattr(value, "value", value)


def _as_of(run: dg.DagsterRun) -> str | None:
    if run.tags.get(AS_OF_TAG):
        return run.tags[AS_OF_TAG]
    for op in (run.run_config or {}).get("ops", {}).values():
        value = (op or {}).get("config", {}).get("as_of_date")
        if value:
            return value
    return None


def _kind(evaluation) -> str:
    return "阻断" if evaluation.severity == dg.AssetCheckSeverity.ERROR else "预警"


def _check_context(run: dg.DagsterRun, evals: list, held_back: bool) -> dict:
    rows = [_meta(e, "failing_rows") for e in evals if _meta(e, "failing_rows") is not None]
    details = next((_meta(e, "details_path") for e in evals if _meta(e, "details_path")), None)
    lines = [
        f"{e.asset_key.to_user_string()} · {e.check_name}（{_kind(e)}）：{_meta(e, 'message') or '未通过'}"
        for e in evals
    ]
    return {
        "as_of_date": _as_of(run),
        "run_id": run.run_id,
        "job": run.job_name,
        "asset": "、".join(dict.fromkeys(e.asset_key.to_user_string() for e in evals)),
        "rows": sum(rows) if rows else None,
        "failures": lines,
        "details_path": details,
        "held_back": held_back,
    }


def notify_run_failure(instance: dg.DagsterInstance, run: dg.DagsterRun, event=None) -> dict:
    """One Chinese ops alert for a failed run: the failed blocking checks, else the failing step.
    Shared by the run-failure sensor (daemon) and the CLI (in-process runs have no daemon)."""
    evals = failed_check_evaluations(instance, run.run_id)
    blocking = [e for e in evals if e.severity == dg.AssetCheckSeverity.ERROR]
    if blocking:
        ctx = _check_context(run, evals, held_back=True)
        title = f"质量检查未通过（{len(blocking)} 项阻断）"
        body = "夜间数据未通过质量门，以下检查失败："
    else:
        if event is None:
            failures = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
            event = failures[0].dagster_event if failures else None
        step = event.step_key if event else None
        error = getattr(getattr(event, "step_failure_data", None), "error", None) if event else None
        # The asset's own error (e.g. the loader's rejected-file message) says more than "step failed".
        reason = (error.message.strip().splitlines()[0] if error and error.message else None) or (
            (event.message if event else "") or "未知错误"
        )
        ctx = {
            "as_of_date": _as_of(run),
            "run_id": run.run_id,
            "job": run.job_name,
            "asset": step,
            "details_path": f"Dagster 运行 /runs/{run.run_id}；拒收见 raw.load_files / raw.load_rejects",
            "held_back": True,
        }
        title = "夜间任务运行失败"
        body = f"任务 {run.job_name} 在步骤 {step or '未知'} 失败：{reason}"
    return send_ops_alert(title, body, level="error", context=ctx)


@dg.run_failure_sensor(name="ops_run_failure_alert", default_status=dg.DefaultSensorStatus.RUNNING)
def ops_run_failure_alert(context: dg.RunFailureSensorContext):
    notify_run_failure(context.instance, context.dagster_run, context.failure_event)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="ops_quality_warning_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def ops_quality_warning_alert(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    evals = failed_check_evaluations(context.instance, run.run_id)
    if not evals:
        return dg.SkipReason(f"run {run.run_id}: no failed checks")
    stale = [e for e in evals if e.check_name.startswith("freshness_")]
    title = "原始数据过期" if len(stale) == len(evals) else f"质量预警（{len(evals)} 项）"
    body = "本次报表已发布，但以下检查提示异常，请核实源系统导出："
    send_ops_alert(title, body, level="warning", context=_check_context(run, evals, held_back=False))


@dg.sensor(
    name="ops_stale_raw_alert",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def ops_stale_raw_alert(context: dg.SensorEvaluationContext):
    """A required raw entity not loaded for longer than $OPSCENTER_STALE_RAW_HOURS (default 36 h):
    the nightly job itself stopped. Ops monitoring, so the wall clock is the right reference here."""
    limit_h = settings.stale_raw_hours()
    now = time.time()
    today = dt.date.fromtimestamp(now).isoformat()
    alerted = json.loads(context.cursor) if context.cursor else {}
    stale = []
    for entity in REQUIRED_ENTITIES:
        event = context.instance.get_latest_materialization_event(dg.AssetKey(["raw", entity]))
        if event is None:
            continue  # never loaded: a fresh install, nothing to compare with
        age_h = (now - event.timestamp) / 3600
        if age_h > limit_h and alerted.get(entity) != today:
            stale.append((entity, age_h))
    if not stale:
        return dg.SkipReason("raw entities loaded recently")
    lines = [f"{ENTITIES[e].label}（raw/{e}）已 {h:.0f} 小时未加载" for e, h in stale]
    send_ops_alert(
        "原始数据过期",
        f"以下原始数据超过 {limit_h:.0f} 小时没有新的加载，请检查夜间任务与源系统导出：",
        level="warning",
        context={"asset": "、".join(f"raw/{e}" for e, _ in stale), "failures": lines},
    )
    context.update_cursor(json.dumps(alerted | {e: today for e, _ in stale}))


ops_sensors = [ops_run_failure_alert, ops_quality_warning_alert, ops_stale_raw_alert]
