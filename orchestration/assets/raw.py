"""Loader assets: one `raw/<entity>` asset per contract entity, landing zone → raw.<entity>."""

from pathlib import Path

import dagster as dg

from orchestration.contract import ENTITIES
from orchestration.loading import LoadError, LoadResult, load_entity
from orchestration.resources import LandingZoneResource, WarehouseResource
from orchestration.run_config import AsOfConfig


def files_markdown(result: LoadResult) -> str:
    """Per-file accounting as a markdown table for the Dagster UI."""
    lines = [
        "| file | format | encoding | status | read | accepted | rejected | superseded | message |",
        "|---|---|---|---|---:|---:|---:|---:|---|",
    ]
    for f in result.files:
        message = (f.message or "").replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {f.source_file} | {f.file_format} | {f.encoding or ''} | {f.status} | {f.rows_read} | "
            f"{f.rows_accepted} | {f.rows_rejected} | {f.rows_superseded} | {message} |"
        )
    if not result.files:
        lines.append("| (no files) | | | | 0 | 0 | 0 | 0 | |")
    return "\n".join(lines)


def load_metadata(result: LoadResult) -> dict:
    return {
        "files": len(result.files),
        "rows_read": result.rows_read,
        "rows_accepted": result.rows_accepted,
        "rows_rejected": result.rows_rejected,
        "rows_superseded": result.rows_superseded,
        "rows_unique": result.rows_unique,
        "files_read": result.count("loaded"),
        "files_skipped_unchanged": result.count("skipped_unchanged"),
        "files_waiting": result.count("waiting"),
        "full_reload": result.full_reload,
        "rows_future_updated_at": result.rows_future_updated_at,
        "dagster/row_count": result.rows_unique,
        "max_updated_at": str(result.max_updated_at) if result.max_updated_at else "",
        "load_id": result.load_id,
        "as_of_date": str(result.as_of_date),
        "files_table": dg.MetadataValue.md(files_markdown(result)),
    }


def _log_warnings(context, result: LoadResult) -> None:
    """Counts and where to look only: rejected lines and keys stay in the warehouse (they may hold PII)."""
    entity = result.entity
    if result.rows_rejected:
        context.log.warning(
            f"{entity}: {result.rows_rejected} row(s) rejected — see raw.load_rejects (entity = '{entity}')"
        )
    if result.count("waiting"):
        context.log.warning(
            f"{entity}: {result.count('waiting')} file(s) not complete yet, left for the next night — "
            f"see raw.load_files (status = 'waiting')"
        )
    if result.rows_future_updated_at:
        context.log.warning(
            f"{entity}: {result.rows_future_updated_at} row(s) with updated_at after the as-of date — "
            f"see raw.load_warnings (check_name = 'future_updated_at')"
        )


def build_raw_asset(entity: str) -> dg.AssetsDefinition:
    spec = ENTITIES[entity]
    need = "required" if spec.required else "optional (missing folder = no rows)"

    @dg.asset(
        key=dg.AssetKey(["raw", entity]),
        group_name="raw",
        kinds={"duckdb"},
        description=(
            f"{spec.label} ({entity}): landing-zone files `{entity}/*.csv|*.xlsx` loaded into raw.{entity}, "
            f"one row per primary key ({', '.join(spec.primary_key)}); rejects in raw.load_rejects. "
            f"Folder {need}."
        ),
    )
    def _load(
        context: dg.AssetExecutionContext,
        config: AsOfConfig,
        warehouse: WarehouseResource,
        landing_zone: LandingZoneResource,
    ) -> dg.MaterializeResult:
        # Short-lived connection: assets of one run must never hold the warehouse concurrently.
        with warehouse.connect() as conn:
            try:
                result = load_entity(
                    conn,
                    entity,
                    Path(landing_zone.path),
                    load_id=context.run.run_id,
                    as_of_date=config.resolve(context),
                    options=landing_zone.load_options(warehouse.path),
                )
            except LoadError as exc:
                metadata = load_metadata(exc.result) if exc.result is not None else {}
                raise dg.Failure(description=str(exc), metadata=metadata) from exc
        _log_warnings(context, result)
        return dg.MaterializeResult(metadata=load_metadata(result))

    return _load


raw_assets: list[dg.AssetsDefinition] = [build_raw_asset(entity) for entity in ENTITIES]
