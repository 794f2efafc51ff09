"""Python model assets (schema `ml`): the renewal model.

It reads the dbt models its tables are declared to come from (the `ml` source's meta.inputs, see
orchestration/models/ml_tables.py) and writes ml.<table>; the marts and the forecast's dbt models
read those as source('ml', <table>), so Dagster orders dbt (features) → ml/* → dbt (forecast,
marts) by asset key. The collection forecast and its backtest are dbt models (intermediate/forecast).
"""

import dagster as dg

from orchestration.models import ml_tables
from orchestration.resources import WarehouseResource
from orchestration.run_config import AsOfConfig

RENEWAL_TABLES = ("renewal_scores", "renewal_model_evaluation")


def _deps(table: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["intermediate", model]) for model in ml_tables.inputs(table)]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["ml", "renewal_scores"],
            deps=_deps("renewal_scores"),
            description="续约概率 Renewal probability of contracts in force ending within 180 days.",
            group_name="ml",
        ),
        dg.AssetSpec(
            ["ml", "renewal_model_evaluation"],
            deps=_deps("renewal_model_evaluation"),
            description="Time-ordered hold-out AUC / Brier / calibration: renewal model and baselines.",
            group_name="ml",
        ),
    ],
    name="renewal_model",
)
def renewal_model(context: dg.AssetExecutionContext, config: AsOfConfig, warehouse: WarehouseResource):
    # imported here, not with the definitions: sklearn and pandas cost every process that loads the
    # definitions (webserver, CLI, tests) ~1.5 CPU s; a night imports them early (orchestration.warmup)
    from orchestration.models import renewal

    as_of = config.resolve(context)
    with warehouse.connect() as conn:
        scores, evaluation = renewal.train_and_score(conn, as_of)
        ml_tables.write_table(conn, "renewal_scores", scores)
        ml_tables.write_table(conn, "renewal_model_evaluation", evaluation)
    published = scores["model_name"].iloc[0] if len(scores) else None
    yield dg.MaterializeResult(
        asset_key=["ml", "renewal_scores"], metadata={"rows": len(scores), "model": str(published)}
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "renewal_model_evaluation"], metadata={"rows": len(evaluation)}
    )


ml_assets = [renewal_model]
