"""What went wrong in one night, named precisely for the ops alert.

Collects every failed quality check (GX gate: name, asset, failing rows, example values), every
failed dbt test or model as the night's dbt step recorded it in its target folder (test, model,
failing rows, example keys: `quality/dbt_tests.py`) and every failed step (the asset's own error, not
Dagster's wrapper), plus the warn-level findings. Reads the Dagster event log and dbt's target folder
only: never the warehouse (a sensor must not hold its lock).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster import DagsterEventType

from orchestration import settings
from orchestration.quality.dbt_tests import read_failures, report_path

MAX_EXAMPLES = 5
MAX_MESSAGE = 300
DBT_ROWS_META = "dagster_dbt/failed_row_count"
DBT_STEP_FAILED = "dbt build failed"  # the dbt step's own error (assets/dbt.py): its nodes are listed
CHECK_ERRORS = {"DagsterAssetCheckFailedError"}  # a step failed only because its blocking check did
WRAPPER_ERRORS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeProcessError"}


@dataclass
class Failure:
    """One failed check or step, as one line of the alert."""

    name_zh: str
    name_en: str
    where: str  # asset, model or file
    message: str = ""
    count: int | None = None
    examples: list[str] = field(default_factory=list)
    blocking: bool = True

    def line(self) -> str:
        text = f"{self.name_zh}（{self.name_en}）· {self.where}"
        if self.count is not None:
            text += f"：{self.count} 行"
        if self.examples:
            text += "；示例：" + "、".join(self.examples[:MAX_EXAMPLES])
        if self.message:
            text += ("；" if self.count is not None or self.examples else "：") + _clip(self.message)
        return text


def _clip(text: str, limit: int = MAX_MESSAGE) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _meta(evaluation, key: str):
    value = (evaluation.metadata or {}).get(key)
    return getattr(value, "value", value)


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list:
    """The run's asset check evaluations, latest per check."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    latest = {}
    for r in records:
        e = r.event_log_entry.dagster_event.event_specific_data
        latest[(e.asset_key.to_user_string(), e.check_name)] = e
    return list(latest.values())


def _is_gate(evaluation) -> bool:
    """A quality-gate (GX) check carries its Chinese message; dbt tests do not."""
    return _meta(evaluation, "message") is not None


def gate_failures(evaluations: list) -> list[Failure]:
    """Failed quality-gate checks, blocking ones first."""
    out = []
    for e in evaluations:
        if e.passed or not _is_gate(e):
            continue
        label = _meta(e, "label") or (_meta(e, "message") or "").split("：")[0] or e.check_name
        out.append(
            Failure(
                name_zh=label,
                name_en=e.check_name,
                where=e.asset_key.to_user_string(),
                message=_meta(e, "message") or "",
                count=_meta(e, "failing_rows"),
                examples=[str(v) for v in (_meta(e, "examples") or [])][:MAX_EXAMPLES],
                blocking=e.severity == dg.AssetCheckSeverity.ERROR,
            )
        )
    return sorted(out, key=lambda f: (not f.blocking, f.where, f.name_en))


def details_path(evaluations: list) -> str | None:
    return next((_meta(e, "details_path") for e in evaluations if _meta(e, "details_path")), None)


# ---------------------------------------------------------------- dbt


def dbt_night_dir(run_id: str, nights_dir: Path | None = None) -> Path:
    """The run's dbt target folder (orchestration/assets/dbt.py: one per night)."""
    return (nights_dir or settings.DBT_NIGHTS_DIR) / run_id


def dbt_failure(record: dict) -> Failure:
    return Failure(
        record["name_zh"],
        record["name_en"],
        record["model"],
        record.get("message") or "",
        record.get("count"),
        list(record.get("examples") or [])[:MAX_EXAMPLES],
        blocking=record.get("severity", "error") == "error",
    )


def dbt_failures(run_id: str, nights_dir: Path | None = None) -> list[Failure]:
    """Failed (and warned) dbt tests and models of the run: name, model, rows and example keys, as
    the night's dbt step recorded them (`quality/dbt_tests.py`), from its target folder."""
    return [dbt_failure(r) for r in read_failures(dbt_night_dir(run_id, nights_dir))]


def dbt_check_failures(evaluations: list) -> list[Failure]:
    """Failed blocking dbt tests from the event log, when the run's run_results.json is gone."""
    return [
        Failure("dbt 测试", e.check_name, e.asset_key.to_user_string(), count=_meta(e, DBT_ROWS_META))
        for e in evaluations
        if not e.passed and not _is_gate(e) and e.severity == dg.AssetCheckSeverity.ERROR
    ]


# ---------------------------------------------------------------- steps


def _root_error(error):
    """The asset's own error under Dagster's 'error occurred while executing op' wrapper."""
    while error is not None and error.cls_name in WRAPPER_ERRORS and error.cause is not None:
        error = error.cause
    return error


def _without_class(message: str, error) -> str:
    """'dagster._core.definitions.events.Failure: x' -> 'x' (the class is shown separately)."""
    if error is None:
        return message.strip()
    return re.sub(rf"^[\w.]*{re.escape(error.cls_name)}:\s*", "", message.strip())


def step_failures(instance: dg.DagsterInstance, run_id: str, skip_dbt: bool) -> list[Failure]:
    """Every failed step, with its root error (first 300 characters, one line)."""
    out = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        error = _root_error(getattr(event.step_failure_data, "error", None))
        message = _without_class((error.message if error else event.message) or "未知错误", error)
        if skip_dbt and ("dbt CLI process" in message or message.startswith(DBT_STEP_FAILED)):
            continue  # named precisely by dbt_failures
        if error is not None and error.cls_name in CHECK_ERRORS:
            continue  # the failed blocking checks are listed themselves
        cls = error.cls_name if error else "StepFailure"
        out.append(Failure("步骤失败", cls, event.step_key or "?", message))
    return out


@dataclass
class NightFailures:
    errors: list[Failure]  # blocking: failed checks, dbt tests/models, steps
    warnings: list[Failure]  # warn-level checks and dbt tests
    reports: list[str]  # quality report paths (GX data docs, dbt test report)


def run_failures(instance, run_id: str) -> NightFailures:
    """Everything that went wrong in one run, and where the details are."""
    evaluations = check_evaluations(instance, run_id)
    gate = gate_failures(evaluations)
    recorded = dbt_failures(run_id)
    dbt = [f for f in recorded if f.blocking] or dbt_check_failures(evaluations)
    steps = step_failures(instance, run_id, skip_dbt=bool(dbt))
    reports = [details_path(evaluations), report_path(dbt_night_dir(run_id)) if recorded else None]
    return NightFailures(
        errors=[f for f in gate if f.blocking] + dbt + steps,
        warnings=[f for f in gate if not f.blocking] + [f for f in recorded if not f.blocking],
        reports=[r for r in reports if r],
    )
