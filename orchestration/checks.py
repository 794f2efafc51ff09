"""Dagster asset checks of the quality gate: the GX suites, volume, freshness and reject share.

One multi-asset check runs every suite once per night and reports each expectation on the asset it
is about (`core/fct_payments`, `raw/payments`, ...). Error-severity checks are *blocking*: when one
fails, Dagster does not run assets that depend directly on the checked asset — so `publish` must
list every key in `gated_asset_keys()` among its deps. Warn-severity checks report and alert only.
(No `from __future__ import annotations`: Dagster reads the nested check's annotations as types.)
"""

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from orchestration.quality import (
    CHECKS,
    ERROR,
    CheckOutcome,
    QualityConfig,
    quality_runs_dir,
    run_quality_suites,
)
from orchestration.quality.suites import Check
from orchestration.resources import WarehouseResource
from orchestration.run_config import AsOfConfig

DAGSTER_SEVERITY = {ERROR: dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


def _key(asset_key: str) -> dg.AssetKey:
    return dg.AssetKey(asset_key.split("/"))


def run_docs_dir(as_of: dt.date, run_id: str) -> Path:
    """Data docs of one run, one subfolder per check definition (`raw_quality_gate/`,
    `core_quality_gate/`, each with index.html and outcomes.json); `publish` copies this folder."""
    return quality_runs_dir() / f"{as_of.isoformat()}_{run_id}" / "data_docs"


def gated_asset_keys(config: QualityConfig | None = None) -> list[dg.AssetKey]:
    """Keys carrying a blocking check: a downstream asset is held back only if it depends on them."""
    config = config or QualityConfig.load()
    return sorted({_key(c.asset_key) for c in CHECKS if c.severity(config) == ERROR}, key=str)


def _selected_checks(layer: str | None, asset_keys: Iterable[dg.AssetKey] | None) -> list[Check]:
    """The suite checks on `layer` (`raw/...` or `core/...` keys) and, when given, on `asset_keys`."""
    wanted = set(asset_keys) if asset_keys is not None else None
    return [
        c
        for c in CHECKS
        if (wanted is None or _key(c.asset_key) in wanted)
        and (layer is None or c.asset_key.startswith(layer + "/"))
    ]


def _check_spec(check: Check, config: QualityConfig) -> dg.AssetCheckSpec:
    """The Dagster spec of one check: blocking when its configured severity is error."""
    severity = check.severity(config)
    return dg.AssetCheckSpec(
        name=check.name,
        asset=_key(check.asset_key),
        description=f"{check.label}（{'阻断发布' if severity == ERROR else '仅预警'}）",
        blocking=severity == ERROR,
        metadata={"severity": severity, "frame": check.frame},
    )


def _check_result(outcome: CheckOutcome, docs_dir: Path) -> dg.AssetCheckResult:
    """One suite outcome as a Dagster check result; the metadata carries what the alert shows."""
    metadata = {
        "message": outcome.message,
        "severity": outcome.severity,
        "details_path": str(docs_dir / "index.html"),
    }
    if outcome.observed is not None:
        metadata["observed"] = outcome.observed
    if outcome.failing_rows is not None:
        metadata["failing_rows"] = outcome.failing_rows
    if outcome.examples:
        metadata["examples"] = list(outcome.examples)
    if outcome.label:
        metadata["label"] = outcome.label
    return dg.AssetCheckResult(
        asset_key=_key(outcome.asset_key),
        check_name=outcome.name,
        passed=outcome.passed,
        severity=DAGSTER_SEVERITY[outcome.severity],
        metadata=metadata,
    )


def build_quality_checks(
    layer: str | None = None,
    asset_keys: Iterable[dg.AssetKey] | None = None,
    config: QualityConfig | None = None,
    name: str | None = None,
) -> dg.AssetChecksDefinition:
    """The gate's checks on one layer (`raw` or `core`), or on `asset_keys` when given (tests).

    Raw and core checks must be separate definitions: a check op depends on every asset it checks,
    and a blocking check on raw/<e> holds back the dbt op, so one op over both would be a cycle.
    """
    quality_config = config or QualityConfig.load()
    checks = _selected_checks(layer, asset_keys)
    name = name or f"{layer or 'all'}_quality_gate"
    specs = [_check_spec(c, quality_config) for c in checks]
    names = [c.name for c in checks]

    @dg.multi_asset_check(
        specs=specs, name=name, description="GX 质量门：数值范围、分布、量级、新鲜度、拒收率"
    )
    def quality_gate(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, config: AsOfConfig
    ):
        as_of = config.resolve(context)
        docs_dir = run_docs_dir(as_of, context.run.run_id) / name
        outcomes = run_quality_suites(
            Path(warehouse.path), as_of, docs_dir, quality_config, only=names, run_name=context.run.run_id
        )
        failed = [o for o in outcomes if not o.passed]
        context.log.info(f"{len(outcomes)} quality checks, {len(failed)} failed; data docs: {docs_dir}")
        for o in outcomes:
            yield _check_result(o, docs_dir)

    return quality_gate


# raw checks run right after the loaders and gate the dbt build; core checks run after dbt
quality_checks = [build_quality_checks("raw"), build_quality_checks("core")]
