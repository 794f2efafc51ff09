"""Dagster `reports/published` asset: publish the night's marts once the quality gate is green.

Blocking asset checks (the gate) stop this asset from running when they fail — provided it depends
directly on every gated asset, so the definitions pass the mart keys and the gated keys as `deps`.
"""

import datetime as dt
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.digest import send_digest
from orchestration.night_guard import NightGuardResource
from orchestration.ops_alerts import send_ops_alert
from orchestration.publish import current_version, publish_version
from orchestration.publish.snapshot import DEFAULT_MEMORY_LIMIT, dbt_descriptions, dbt_identities
from orchestration.resources import WarehouseResource
from orchestration.run_config import AsOfConfig

PUBLISH_KEY = dg.AssetKey(["reports", "published"])
# Run tag (CLI `--make-current`): make this night current even if older than the current publication.
MAKE_CURRENT_TAG = "opscenter/make_current"


class PublishResource(dg.ConfigurableResource):
    """Where published versions go and how many are kept (the current one is never deleted)."""

    publish_root: str
    keep: int = 7
    memory_limit: str = DEFAULT_MEMORY_LIMIT  # DuckDB's, while the snapshot is built and scanned
    temp_dir: str = ""  # DuckDB's spill folder ('' = beside the version being built)


@dataclass(frozen=True)
class RenderContext:
    """What the page renderer gets besides the snapshot: the night, the run and its check results."""

    as_of_date: str
    run_id: str
    checks: list[dict] = field(default_factory=list)
    dagster: dg.AssetExecutionContext | None = None

    @property
    def quality_status(self) -> str:
        """Shown on every page. Publication runs only on a green gate, so failures here are warnings."""
        if not self.checks:
            return "无检查记录"
        failed = [c for c in self.checks if c["status"] != "passed"]
        if not failed:
            return "通过"
        if any(c.get("severity") == "error" for c in failed):
            return "未通过"
        return f"通过（{len(failed)} 项预警）"

    def page_context(self) -> dict:
        """The renderer's `context` dict (orchestration.render.render_site)."""
        return {"as_of_date": self.as_of_date, "run_id": self.run_id, "quality_status": self.quality_status}


def code_version() -> str:
    """The git commit of the running code, `unknown` outside a checkout (metadata only)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        sha = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=settings.REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _metadata_text(value) -> str | None:
    if value is None:
        return None
    inner = getattr(value, "value", value)
    return inner if isinstance(inner, str) else str(inner)


def run_check_results(context: dg.AssetExecutionContext) -> list[dict]:
    """Every asset check evaluated so far in this run (gate, dbt tests), latest per check."""
    records = context.instance.all_logs(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )
    latest: dict[str, dict] = {}
    for record in records:
        evaluation = record.dagster_event.event_specific_data
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        metadata = evaluation.metadata or {}
        message = _metadata_text(metadata.get("message")) or evaluation.description or ""
        latest[name] = {
            "name": name,
            "asset": evaluation.asset_key.to_user_string(),
            "check": evaluation.check_name,
            "severity": evaluation.severity.value.lower(),
            "status": "passed" if evaluation.passed else "failed",
            "message": message,
        }
    return [latest[k] for k in sorted(latest)]


def _report_if_not_current(context, publish_root: Path, version: str) -> None:
    """An older night (a rerun) is kept but not made current: say so, to the log and to ops."""
    if current_version(publish_root) == version:
        return
    current = current_version(publish_root)
    context.log.warning(f"published {version} but kept {current} current (newer as-of date)")
    send_ops_alert(
        "已发布较早日期的版本，未设为当前版本",
        f"本次运行的数据日期早于当前报表版本 {current}，新版本 {version} 已保存但未替换当前版本。",
        level="info",
        context={
            "run_id": context.run.run_id,
            "next_step": f"如需切换：python -m orchestration.cli rollback --to {version}"
            "，或重跑时加 --make-current",
        },
    )


def _attachments(data_docs: Callable[[dt.date, str], Path] | None, as_of: dt.date, run_id: str) -> dict:
    """Folders copied into the version: the gate's data docs, when a `data_docs` namer is given."""
    return {} if data_docs is None else {"data_docs": data_docs(as_of, run_id)}


def _send_morning_digest(context, folder: Path, as_of: dt.date, publish_root: Path) -> None:
    """The managers' digest of the published night; a failure is logged, never raised."""
    pages = settings.pages_url() or str(publish_root / "current" / "pages" / "index.html")
    try:
        digest = send_digest(folder / "snapshot.duckdb", as_of, pages)
        sent = sum(d["ok"] for d in digest["deliveries"])
        context.log.info(f"morning digest: {sent}/{len(digest['deliveries'])} channel(s) delivered")
    except Exception as exc:  # the night is published; a digest problem must not undo that
        context.log.warning(f"morning digest not sent: {type(exc).__name__}: {exc}")


def _publish_metadata(folder: Path, publish_root: Path, manifest: dict, checks: list[dict]) -> dict:
    """The materialization's metadata: where the version is, its tables and rows, pages and checks."""
    tables = {t["name"]: t["rows"] for t in manifest["tables"]}
    return {
        "folder": dg.MetadataValue.path(str(folder)),
        "version": folder.name,
        "path": dg.MetadataValue.path(str(folder / "snapshot.duckdb")),
        "current": dg.MetadataValue.path(str(publish_root / "current" / "snapshot.duckdb")),
        "tables": dg.MetadataValue.json(tables),
        "table_count": len(tables),
        "rows": sum(tables.values()),
        "pages": len(manifest["pages"]),  # files under pages/: HTML, template data files, assets, docs
        "page_summary": dg.MetadataValue.json(manifest.get("page_summary", {})),
        "checks": len(checks),
        "checks_failed": sum(1 for c in checks if c["status"] != "passed"),
    }


def _snapshot_selection(schemas: Sequence[str] | None, tables: Sequence[str] | None) -> dict:
    """`publish_run`'s schemas/tables arguments, only where given (else the publisher's defaults)."""
    extra = {}
    if schemas is not None:
        extra["schemas"] = tuple(schemas)
    if tables is not None:
        extra["tables"] = tuple(tables)
    return extra


def build_publish_asset(
    deps: Iterable[dg.AssetKey | str | dg.AssetsDefinition] = (),
    *,
    key: dg.AssetKey = PUBLISH_KEY,
    render: Callable[[Path, Path, RenderContext], None] | None = None,
    data_docs: Callable[[dt.date, str], Path] | None = None,
    schemas: Sequence[str] | None = None,
    tables: Sequence[str] | None = None,
) -> dg.AssetsDefinition:
    """The publish asset depending on `deps` (the marts and every gated key).

    `render(snapshot, pages_dir, RenderContext)` writes the pages (none without it); `data_docs(as_of,
    run_id)` names the gate's data-docs folder copied into the version as `data_docs/`.
    """
    extra = _snapshot_selection(schemas, tables)

    @dg.asset(
        key=key,
        deps=list(deps),
        group_name="publish",
        kinds={"duckdb", "parquet"},
        description="发布：只读快照、Parquet、报表页面与清单，原子切换 current（质量门通过后）",
    )
    def publish(
        context: dg.AssetExecutionContext,
        config: AsOfConfig,
        warehouse: WarehouseResource,
        publisher: PublishResource,
        night: NightGuardResource,  # noqa: ARG001 - required so the guard is set up when the run starts
    ) -> dg.MaterializeResult:
        as_of = config.resolve(context)
        run_id = context.run.run_id
        checks = run_check_results(context)
        page_context = RenderContext(as_of.isoformat(), run_id, checks, context)
        attachments = _attachments(data_docs, as_of, run_id)
        publish_root = Path(publisher.publish_root)
        published = publish_version(
            Path(warehouse.path),
            publish_root,
            as_of_date=as_of.isoformat(),
            run_id=run_id,
            code_version=code_version(),
            checks=checks,
            render=None if render is None else lambda snapshot, pages: render(snapshot, pages, page_context),
            keep=publisher.keep,
            memory_limit=publisher.memory_limit,
            temp_dir=publisher.temp_dir,
            attachments=attachments,
            make_current=context.run.tags.get(MAKE_CURRENT_TAG) == "1",
            descriptions=dbt_descriptions(settings.DBT_PROJECT_DIR / "target" / "manifest.json"),
            identities=dbt_identities(settings.DBT_PROJECT_DIR / "target" / "manifest.json"),
            **extra,
        )
        folder, manifest = published.folder, published.manifest  # the manifest as written, not read back
        _report_if_not_current(context, publish_root, folder.name)
        metadata = _publish_metadata(folder, publish_root, manifest, checks)
        summary = manifest.get("page_summary", {})
        counts = (
            f"{metadata['table_count']} tables, {metadata['pages']} files under pages/ "
            f"({summary.get('html_pages', 0)} HTML pages, {summary.get('key_data_files', 0)} key data files)"
        )
        context.log.info(f"published {folder.name}: {counts}")
        _send_morning_digest(context, folder, as_of, publish_root)
        return dg.MaterializeResult(metadata=metadata)

    return publish
