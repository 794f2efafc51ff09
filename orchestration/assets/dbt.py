"""dbt models as Dagster assets: staging → intermediate → core → marts, tests as asset checks."""

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration import settings
from orchestration.run_config import AsOfConfig

# The profile reads the warehouse path from the environment; dbt subprocesses inherit it.
os.environ.setdefault("OPSCENTER_WAREHOUSE", str(settings.warehouse_path()))

dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)


class OpsDbtTranslator(DagsterDbtTranslator):
    """raw.<entity> sources are the loader assets; models are keyed <schema>/<model>."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props.get("schema") or "dbt"


translator = OpsDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=translator, name="dbt_models")
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: AsOfConfig):
    as_of = config.resolve(context)
    # A step of seeds/calendars may run before any loader has created the warehouse file.
    Path(os.environ["OPSCENTER_WAREHOUSE"]).parent.mkdir(parents=True, exist_ok=True)
    yield from dbt.cli(
        # Dagster splits this op around the Python model assets; "buildable" runs a multi-parent test
        # only in the step where all its parents exist, not eagerly before the later ones are built.
        [
            "build",
            "--indirect-selection",
            "buildable",
            "--vars",
            json.dumps({"as_of_date": as_of.isoformat()}),
        ],
        context=context,
    ).stream()
