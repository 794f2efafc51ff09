"""What went wrong in one night, named precisely for the ops alert.

Collects every failed quality check (GX gate: name, asset, failing rows, example values), every
failed dbt node from the run's own `run_results.json` (test, model, rows) and every failed step
(the asset's own error, not Dagster's wrapper), plus the warn-level findings. Reads the Dagster
event log and dbt's target folder only: never the warehouse (a sensor must not hold its lock).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster import DagsterEventType

from orchestration import settings

MAX_EXAMPLES = 5
MAX_MESSAGE = 300
DBT_TEST_NAMES = {
    "not_null": "非空",
    "unique": "唯一",
    "relationships": "引用完整（外键）",
    "accepted_values": "取值范围",
    "expression_is_true": "表达式成立",
}
DBT_FAILED = {"fail", "error"}
DBT_ROWS_META = "dagster_dbt/failed_row_count"
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


def dbt_target_dirs(run_id: str, target_root: Path | None = None) -> list[Path]:
    """dagster-dbt's invocation folders of this run: `<op>-<run_id[:7]>-<uuid>` under target/."""
    root = target_root or settings.DBT_PROJECT_DIR / "target"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob(f"*-{run_id[:7]}-*") if (p / "run_results.json").is_file())


def _dbt_node_name(node: dict, unique_id: str) -> tuple[str, str]:
    """(Chinese kind, English name) of a dbt node."""
    name = node.get("name") or unique_id.split(".")[-1]
    if unique_id.startswith("test."):
        kind = (node.get("test_metadata") or {}).get("name", "")
        return f"dbt 测试：{DBT_TEST_NAMES.get(kind, '数据规则')}", name
    return "dbt 模型构建失败", name


def _dbt_model_of(node: dict, unique_id: str) -> str:
    if not unique_id.startswith("test."):
        return unique_id.split(".")[-1]
    # the tested model first, then the others it reads (a relationships test: child, then parent)
    nodes = [node.get("attached_node") or "", *(node.get("depends_on") or {}).get("nodes", [])]
    return "、".join(dict.fromkeys(n.split(".")[-1] for n in nodes if n)) or "?"


def _dbt_failures_in(folder: Path) -> list[Failure]:
    results = json.loads((folder / "run_results.json").read_text(encoding="utf-8")).get("results", [])
    manifest_path = folder / "manifest.json"
    nodes = {}
    if manifest_path.is_file():
        nodes = json.loads(manifest_path.read_text(encoding="utf-8")).get("nodes", {})
    out = []
    for r in results:
        if r.get("status") not in DBT_FAILED:
            continue
        uid = r.get("unique_id", "")
        node = nodes.get(uid, {})
        zh, en = _dbt_node_name(node, uid)
        count = r.get("failures") if uid.startswith("test.") and r.get("status") == "fail" else None
        out.append(Failure(zh, en, _dbt_model_of(node, uid), r.get("message") or "", count))
    return out


def dbt_failures(run_id: str, target_root: Path | None = None) -> list[Failure]:
    """Failed dbt tests and models of the run, from each of its invocations' run_results.json."""
    out: list[Failure] = []
    for folder in dbt_target_dirs(run_id, target_root):
        try:
            out += _dbt_failures_in(folder)
        except (OSError, ValueError):
            continue
    return out


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
        if skip_dbt and "dbt CLI process" in message:
            continue  # named precisely by dbt_failures
        if error is not None and error.cls_name in CHECK_ERRORS:
            continue  # the failed blocking checks are listed themselves
        cls = error.cls_name if error else "StepFailure"
        out.append(Failure("步骤失败", cls, event.step_key or "?", message))
    return out


def run_failures(instance, run_id: str) -> tuple[list[Failure], list[Failure], str | None]:
    """(blocking failures, warnings, quality report path) of one run."""
    evaluations = check_evaluations(instance, run_id)
    gate = gate_failures(evaluations)
    dbt = dbt_failures(run_id) or dbt_check_failures(evaluations)
    errors = [f for f in gate if f.blocking] + dbt + step_failures(instance, run_id, skip_dbt=bool(dbt))
    return errors, [f for f in gate if not f.blocking], details_path(evaluations)
