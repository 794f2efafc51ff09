"""Python model assets (schema `ml`): renewal probability and the collection forecast.

They read the core/intermediate tables dbt built for the run's as-of date and write ml.<table>;
the forecast/alerts marts read those as source('ml', <table>), so Dagster orders
dbt (core) → ml/* → dbt (marts) by asset key.
"""

import dagster as dg

from orchestration.models import collections, renewal
from orchestration.models.ml_tables import write_table
from orchestration.resources import WarehouseResource
from orchestration.run_config import AsOfConfig

CORE_DEPS = [
    dg.AssetKey(["core", "dim_contracts"]),
    dg.AssetKey(["core", "dim_clients"]),
    dg.AssetKey(["core", "fct_invoices"]),
    dg.AssetKey(["core", "fct_payment_applications"]),
    dg.AssetKey(["staging", "stg_contracts"]),
    dg.AssetKey(["intermediate", "int_cutoff_dates"]),
    dg.AssetKey(["intermediate", "int_invoices_at_cutoffs"]),
    dg.AssetKey(["intermediate", "int_payment_applications_at_cutoffs"]),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["ml", "renewal_scores"],
            deps=[dg.AssetKey(["intermediate", "int_contract_renewal_features"])],
            description="续约概率 Calibrated renewal probability of contracts ending within 180 days.",
            group_name="ml",
        ),
        dg.AssetSpec(
            ["ml", "renewal_model_evaluation"],
            deps=[dg.AssetKey(["intermediate", "int_contract_renewal_features"])],
            description="Time-based hold-out AUC / Brier / calibration of the renewal model vs a constant.",
            group_name="ml",
        ),
    ],
    name="renewal_model",
)
def renewal_model(context: dg.AssetExecutionContext, config: AsOfConfig, warehouse: WarehouseResource):
    as_of = config.resolve(context)
    with warehouse.connect() as conn:
        scores, evaluation = renewal.train_and_score(conn, as_of)
        write_table(conn, "renewal_scores", scores)
        write_table(conn, "renewal_model_evaluation", evaluation)
    yield dg.MaterializeResult(asset_key=["ml", "renewal_scores"], metadata={"rows": len(scores)})
    yield dg.MaterializeResult(
        asset_key=["ml", "renewal_model_evaluation"], metadata={"rows": len(evaluation)}
    )


@dg.asset(
    key=["ml", "collection_forecast_backtest"],
    deps=CORE_DEPS,
    group_name="ml",
    description="回款预测回测 Last 12 months: forecast made at the previous month end vs actual.",
)
def collection_forecast_backtest(
    context: dg.AssetExecutionContext, config: AsOfConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    as_of = config.resolve(context)
    with warehouse.connect() as conn:
        frame = collections.backtest(conn, as_of, months=12)
        write_table(conn, "collection_forecast_backtest", frame)
    return dg.MaterializeResult(metadata={"rows": len(frame)})


@dg.asset(
    key=["ml", "collection_forecast"],
    deps=[
        *CORE_DEPS,
        dg.AssetKey(["ml", "renewal_scores"]),
        dg.AssetKey(["ml", "collection_forecast_backtest"]),
    ],
    group_name="ml",
    description="回款预测 Expected collections, next 3 months and quarter, by firm / industry / service.",
)
def collection_forecast(
    context: dg.AssetExecutionContext, config: AsOfConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    as_of = config.resolve(context)
    with warehouse.connect() as conn:
        past = conn.execute(
            "select forecast_amount, actual_amount from ml.collection_forecast_backtest"
            " where as_of_date = $as_of order by period",
            {"as_of": as_of},
        ).df()
        band = collections.band_from_errors(past["forecast_amount"], past["actual_amount"])
        frame = collections.forecast(conn, as_of, band_pct=band)
        frame.insert(0, "as_of_date", as_of)
        write_table(conn, "collection_forecast", frame)
    return dg.MaterializeResult(metadata={"rows": len(frame), "band_pct": band})


ml_assets = [renewal_model, collection_forecast_backtest, collection_forecast]
