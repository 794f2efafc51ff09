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

from orchestration import settings
from orchestration.contract import ENTITIES, REQUIRED_ENTITIES
from orchestration.failure_report import Failure, check_evaluations, run_failures
from orchestration.night_guard import DIED_TAG, REFUSED_TAG
from orchestration.ops_alerts import send_ops_alert

AS_OF_TAG = "opscenter/as_of_date"


ALERTED_TAG = "opscenter/alerted"  # set once a run's alert is sent: CLI and daemon sensors never both send


def failed_check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list:
    """The run's failed asset check evaluations (AssetCheckEvaluation), errors first."""
    evals = [e for e in check_evaluations(instance, run_id) if not e.passed]
    return sorted(
        evals, key=lambda e: (e.severity != dg.AssetCheckSeverity.ERROR, e.asset_key.to_user_string())
    )


def _as_of(run: dg.DagsterRun) -> str | None:
    if run.tags.get(AS_OF_TAG):
        return run.tags[AS_OF_TAG]
    for op in (run.run_config or {}).get("ops", {}).values():
        value = (op or {}).get("config", {}).get("as_of_date")
        if value:
            return value
    return None


def run_url(run_id: str) -> str:
    return f"{settings.dagster_url()}/runs/{run_id}"


def next_step(as_of: str | None) -> str:
    return f"修正文件后重跑 `make nightly AS_OF={as_of or 'YYYY-MM-DD'}`"


def _details(run: dg.DagsterRun, reports: list[str]) -> list[str]:
    as_of = _as_of(run) or "<as_of>"
    lines = [
        "拒收明细：SELECT source_file, source_line, reason FROM raw.load_rejects WHERE load_id IN "
        f"(SELECT load_id FROM raw.load_files WHERE as_of_date = '{as_of}')",
    ]
    lines += [f"质量报告：{report}" for report in reports]
    lines.append(f"Dagster 运行：{run_url(run.run_id)}")
    return lines


def _base_context(run: dg.DagsterRun, **extra) -> dict:
    return {"as_of_date": _as_of(run), "run_id": run.run_id, "job": run.job_name} | extra


def _already_alerted(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    fresh = instance.get_run_by_id(run.run_id) or run
    return bool(fresh.tags.get(ALERTED_TAG) or fresh.tags.get(DIED_TAG))


def _mark_alerted(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    instance.add_run_tags(run.run_id, {ALERTED_TAG: "1"})


REFUSALS = {  # reason tag -> (title, body, next step)
    "another_night": (
        "夜间任务未启动：另一夜间任务正在运行",
        "同一数据仓库同一时间只运行一个夜间任务；本次运行已拒绝，未做任何修改。",
        "等待正在运行的任务结束，查看它的结果即可，无需重跑",
    ),
    "publish_not_writable": (
        "夜间任务未启动：发布目录不可写",
        "发布目录不可写，夜间任务在开始时停止，未做任何修改。",
        "修正发布目录的权限或磁盘空间后重跑",
    ),
}


def _refused_alert(run: dg.DagsterRun, reason: str) -> dict:
    """A night refused at its start did no work: no 'publication held back' claim."""
    title, body, step = REFUSALS.get(
        reason, (f"夜间任务未启动：{reason}", "夜间任务在开始时停止。", "查看 Dagster 运行日志")
    )
    ctx = _base_context(run, details=[f"Dagster 运行：{run_url(run.run_id)}"], next_step=step)
    return send_ops_alert(title, body, level="error", context=ctx)


def notify_run_failure(instance: dg.DagsterInstance, run: dg.DagsterRun, event=None) -> dict | None:
    """The one Chinese ops alert of a failed night: every failed check and step, where the details
    are and what to do next. Shared by the run-failure sensor (daemon) and the CLI (in-process runs);
    sent once per run (tag `opscenter/alerted`). `event` is accepted for the sensor's signature."""
    if _already_alerted(instance, run):
        return None
    _mark_alerted(instance, run)
    if run.tags.get(REFUSED_TAG):
        return _refused_alert(run, run.tags[REFUSED_TAG])
    night = run_failures(instance, run.run_id)
    errors, warnings = night.errors, night.warnings
    if not errors:
        errors = [
            Failure("运行失败", "RunFailure", run.job_name, "运行中止，未记录失败步骤，见 Dagster 运行日志")
        ]
    body = f"夜间任务 {run.job_name} 未通过，共 {len(errors)} 项失败。首要原因：{errors[0].line()}"
    ctx = _base_context(
        run,
        asset="、".join(dict.fromkeys(f.where for f in errors)),
        rows=sum(f.count for f in errors if f.count is not None) or None,
        failures=[f.line() for f in errors],
        warnings=[f.line() for f in warnings],
        details=_details(run, night.reports),
        next_step=next_step(_as_of(run)),
        held_back=True,
    )
    return send_ops_alert(f"夜间运行失败（{len(errors)} 项）", body, level="error", context=ctx)


def notify_run_warnings(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dict | None:
    """The lower-priority daily summary of a green night's warn-level findings (CLI and sensor)."""
    if _already_alerted(instance, run):
        return None
    night = run_failures(instance, run.run_id)
    warnings = night.warnings
    if not warnings:
        return None
    _mark_alerted(instance, run)
    stale = [w for w in warnings if w.name_en.startswith("freshness_")]
    title = "原始数据过期" if len(stale) == len(warnings) else f"每日预警汇总（{len(warnings)} 项）"
    body = "本次报表已发布，但以下检查提示异常，请核实源系统导出："
    ctx = _base_context(
        run,
        asset="、".join(dict.fromkeys(w.where for w in warnings)),
        failures=[w.line() for w in warnings],
        details=_details(run, night.reports),
        next_step="核实源系统导出；数据确认无误可忽略，修正后重跑 " + f"`make nightly AS_OF={_as_of(run)}`",
    )
    return send_ops_alert(title, body, level="warning", context=ctx)


@dg.run_failure_sensor(name="ops_run_failure_alert", default_status=dg.DefaultSensorStatus.RUNNING)
def ops_run_failure_alert(context: dg.RunFailureSensorContext):
    notify_run_failure(context.instance, context.dagster_run, context.failure_event)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="ops_quality_warning_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def ops_quality_warning_alert(context: dg.RunStatusSensorContext):
    if notify_run_warnings(context.instance, context.dagster_run) is None:
        return dg.SkipReason(f"run {context.dagster_run.run_id}: no warning to send")
    return None


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
