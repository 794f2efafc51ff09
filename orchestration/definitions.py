"""The one Definitions of the project: loaders, dbt models, quality gate, publication, sensors."""

from __future__ import annotations

import dagster as dg

from orchestration import settings
from orchestration.assets.dbt import dbt_models
from orchestration.assets.publish import RenderContext, build_publish_asset
from orchestration.assets.raw import raw_assets
from orchestration.checks import gated_asset_keys, quality_checks, run_docs_dir
from orchestration.night_guard import NightGuardResource
from orchestration.render import render_site
from orchestration.render.hooks import previous_pages, publish_dbt_docs
from orchestration.resources import default_resources
from orchestration.run_config import AS_OF_TAG, logical_as_of
from orchestration.sensors import ops_sensors

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    description="Load the night's exports, build and check the warehouse, publish if green.",
    # One writer at a time on the DuckDB file: assets run one after another in this process.
    executor_def=dg.in_process_executor,
)


@dg.schedule(job=nightly_job, cron_schedule="0 2 * * *", execution_timezone="Asia/Shanghai")
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    """02:00 Shanghai: process the previous business day's exports (the run's logical date)."""
    as_of = logical_as_of(context.scheduled_execution_time)
    return dg.RunRequest(run_key=as_of.isoformat(), tags={AS_OF_TAG: as_of.isoformat()})


def render_pages(snapshot, out_dir, ctx: RenderContext) -> None:
    """Render reports/pages against the new snapshot; a page error fails the publish."""
    publish_dbt_docs(out_dir, ctx.as_of_date)  # pages/dbt-docs/, linked from the 数据质量 page
    previous = previous_pages(out_dir)  # unchanged pages are hard-linked from the current version
    render_site(
        settings.PAGES_DIR,
        snapshot,
        out_dir,
        ctx.page_context(),
        previous_dir=previous,
        memory_limit=settings.render_memory_limit(),
        workers=settings.render_workers(),
        parallel_min_keys=settings.render_parallel_keys(),
    )


publish_reports = build_publish_asset(
    # Direct deps on every gated key: Dagster holds back only direct dependents of a failed check.
    deps=[*dbt_models.keys, *gated_asset_keys()],
    render=render_pages,
    data_docs=run_docs_dir,
    # BI tools and pages read the marts and the shared core dims/facts; raw stays private.
    schemas=("marts", "core"),
)


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    """Definitions with the resources of the OPSCENTER_* settings (read now), or overrides for tests."""
    resources = {**default_resources(), **(resources or {})}
    # one night at a time per warehouse; guards the same warehouse and folder the night writes
    resources.setdefault(
        "night",
        NightGuardResource(
            warehouse=resources["warehouse"].path, publish_root=resources["publisher"].publish_root
        ),
    )
    return dg.Definitions(
        assets=[*raw_assets, dbt_models, publish_reports],
        asset_checks=quality_checks,
        jobs=[nightly_job],
        schedules=[nightly_schedule],
        sensors=ops_sensors,
        resources=resources,
    )


defs = build_definitions()
