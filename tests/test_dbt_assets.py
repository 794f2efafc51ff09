"""How the dbt project appears in Dagster: keys by layer (stable: other code and tests name them), groups by
domain folder, raw sources wired to the loader assets. Read from the parsed manifest, no dbt run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.assets.dbt import dbt_models
from orchestration.assets.ml import ml_assets
from orchestration.assets.raw import raw_assets
from orchestration.settings import DBT_PROJECT_DIR

MODELS = DBT_PROJECT_DIR / "models"


def _model_files() -> list[Path]:
    return sorted(MODELS.rglob("*.sql"))


def test_models_are_keyed_by_layer_schema_and_name():
    keys = {k.to_user_string() for k in dbt_models.keys}
    layer_schema = {"staging": "staging", "intermediate": "intermediate", "core": "core", "marts": "marts"}
    expected = {f"{layer_schema[p.relative_to(MODELS).parts[0]]}/{p.stem}" for p in _model_files()}
    seeds = {f"seeds/{p.stem}" for p in (DBT_PROJECT_DIR / "seeds").glob("*.csv")}
    assert keys == expected | seeds
    assert dg.AssetKey(["marts", "mart_ar_provision"]) in dbt_models.keys


def test_groups_follow_the_domain_folders():
    groups = dbt_models.group_names_by_key
    for path in _model_files():
        parts = path.relative_to(MODELS).parts
        key = next(k for k in dbt_models.keys if k.path[-1] == path.stem)
        assert groups[key] == (parts[1] if len(parts) > 2 else parts[0]), path
    assert groups[dg.AssetKey(["intermediate", "int_ar_buckets"])] == "ar"
    assert groups[dg.AssetKey(["marts", "mart_ar_provision"])] == "ar"
    assert groups[dg.AssetKey(["seeds", "cn_tax_deadlines"])] == "seeds"


def test_sources_are_the_loader_and_python_model_assets():
    upstream = {d.asset_key for spec in dbt_models.specs for d in spec.deps}
    external = {k for k in upstream if k not in dbt_models.keys}
    produced = {k for a in (*raw_assets, *ml_assets) for k in a.keys}
    entity_keys = {k for a in raw_assets for k in a.keys}
    assert entity_keys <= upstream  # every loaded entity feeds staging
    # what is not a loader or Python model asset is the loader's own bookkeeping (raw.load_*)
    assert {k.to_user_string() for k in external - produced} <= {
        "raw/load_files",
        "raw/load_rejects",
        "raw/load_runs",
    }


def test_the_night_runs_dbt_once_before_and_once_after_the_python_models():
    # Dagster splits the dbt op around the assets between its nodes; a dbt node that reads nothing (a seed)
    # would otherwise get a step of its own before the loaders: one more dbt process every night
    from dagster._core.execution.api import create_execution_plan

    from orchestration.definitions import defs

    plan = create_execution_plan(defs.resolve_job_def("nightly"))
    order = [s.key for s in plan.get_steps_to_execute_in_topo_order()]
    dbt_steps = [k for k in order if k.startswith("dbt_models")]
    assert len(dbt_steps) == 2, order
    loaders = [order.index(f"raw__{a.key.path[-1]}") for a in raw_assets]
    ml = [order.index(k) for a in ml_assets for k in [a.node_def.name] if k in order]
    assert max(loaders) < order.index(dbt_steps[0]) < min(ml) < order.index(dbt_steps[1])
    seeds = next(s for s in dbt_models.specs if s.key == dg.AssetKey(["seeds", "cn_calendar"]))
    assert {a.key for a in raw_assets} <= {d.asset_key for d in seeds.deps}


def test_a_full_refresh_night_passes_full_refresh_to_dbt_and_only_then(monkeypatch):
    from orchestration.assets.dbt import build_args
    from orchestration.cli import main, night_tags
    from orchestration.run_config import AS_OF_TAG, FULL_REFRESH_TAG

    plain = night_tags("2026-11-20")
    assert plain == {AS_OF_TAG: "2026-11-20"}
    assert build_args(plain) == ["build", "--indirect-selection", "buildable"]
    refresh = night_tags("2026-11-20", full_refresh=True)
    assert refresh[FULL_REFRESH_TAG] == "1"
    assert build_args(refresh) == ["build", "--indirect-selection", "buildable", "--full-refresh"]
    assert "--full-refresh" not in build_args({FULL_REFRESH_TAG: "0"})
    # the CLI flag reaches the night
    import orchestration.cli as cli

    seen = {}
    monkeypatch.setattr(cli, "run_nightly", lambda as_of, **kw: seen.update(as_of=as_of, **kw) or True)
    monkeypatch.setattr(cli, "print_status", lambda: None)
    assert main(["nightly", "--as-of", "2026-11-20", "--full-refresh"]) == 0
    assert seen == {"as_of": "2026-11-20", "make_current": False, "full_refresh": True}
