"""How the dbt project appears in Dagster: keys by layer (stable: other code and tests name them), groups by
domain folder, raw sources wired to the loader assets. Read from the parsed manifest, no dbt run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.assets.dbt import dbt_models
from orchestration.assets.raw import raw_assets
from orchestration.settings import DBT_PROJECT_DIR

MODELS = DBT_PROJECT_DIR / "models"


def _model_files() -> list[Path]:
    return sorted([*MODELS.rglob("*.sql"), *MODELS.rglob("*.py")])


def test_models_are_keyed_by_layer_schema_and_name():
    keys = {k.to_user_string() for k in dbt_models.keys}
    layer_schema = {"staging": "staging", "intermediate": "intermediate", "core": "core", "marts": "marts",
                    "ml": "ml"}  # fmt: skip
    expected = {f"{layer_schema[p.relative_to(MODELS).parts[0]]}/{p.stem}" for p in _model_files()}
    seeds = {f"seeds/{p.stem}" for p in (DBT_PROJECT_DIR / "seeds").glob("*.csv")}
    assert keys == expected | seeds
    assert dg.AssetKey(["marts", "mart_ar_provision"]) in dbt_models.keys
    assert dg.AssetKey(["ml", "renewal_scores"]) in dbt_models.keys  # a dbt Python model, same key as before


def test_groups_follow_the_domain_folders():
    groups = dbt_models.group_names_by_key
    for path in _model_files():
        parts = path.relative_to(MODELS).parts
        key = next(k for k in dbt_models.keys if k.path[-1] == path.stem)
        assert groups[key] == (parts[1] if len(parts) > 2 else parts[0]), path
    assert groups[dg.AssetKey(["intermediate", "int_ar_buckets"])] == "ar"
    assert groups[dg.AssetKey(["marts", "mart_ar_provision"])] == "ar"
    assert groups[dg.AssetKey(["seeds", "cn_tax_deadlines"])] == "seeds"
    assert groups[dg.AssetKey(["ml", "renewal_model_evaluation"])] == "ml"


def test_sources_are_the_loader_assets():
    upstream = {d.asset_key for spec in dbt_models.specs for d in spec.deps}
    external = {k for k in upstream if k not in dbt_models.keys}
    produced = {k for a in raw_assets for k in a.keys}
    assert produced <= upstream  # every loaded entity feeds staging
    # what is not a loader asset is the loader's own bookkeeping (raw.load_*); the renewal model's ml/*
    # tables are dbt Python models now, not sources
    assert {k.to_user_string() for k in external - produced} <= {
        "raw/load_files",
        "raw/load_rejects",
        "raw/load_runs",
    }
    scores = next(s for s in dbt_models.specs if s.key == dg.AssetKey(["ml", "renewal_scores"]))
    assert {d.asset_key for d in scores.deps} == {
        dg.AssetKey(["intermediate", "int_contract_renewal_features"]),
        dg.AssetKey(["ml", "renewal_model_evaluation"]),
    }


def test_the_night_runs_dbt_once():
    # Dagster splits the dbt op around assets between its nodes (until the renewal model became dbt Python
    # models it ran dbt twice, before and after them); a dbt node that reads nothing (a seed) would
    # otherwise get a step of its own before the loaders: one more dbt process every night
    from dagster._core.execution.api import create_execution_plan

    from orchestration.definitions import defs

    plan = create_execution_plan(defs.resolve_job_def("nightly"))
    order = [s.key for s in plan.get_steps_to_execute_in_topo_order()]
    dbt_steps = [k for k in order if k.startswith("dbt_models")]
    assert dbt_steps == ["dbt_models"], order
    loaders = [order.index(f"raw__{a.key.path[-1]}") for a in raw_assets]
    assert max(loaders) < order.index("dbt_models") < order.index("core_quality_gate")
    assert order.index("core_quality_gate") < order.index("reports__published")
    seeds = next(s for s in dbt_models.specs if s.key == dg.AssetKey(["seeds", "cn_calendar"]))
    assert {a.key for a in raw_assets} <= {d.asset_key for d in seeds.deps}


def test_a_full_refresh_night_passes_full_refresh_to_dbt_and_only_then(monkeypatch):
    from orchestration.assets.dbt import build_args
    from orchestration.cli import main, night_tags
    from orchestration.run_config import AS_OF_TAG, FULL_REFRESH_TAG

    plain = night_tags("2026-11-20")
    assert plain == {AS_OF_TAG: "2026-11-20"}
    night = ["build", "--indirect-selection", "buildable", "--exclude", "source:raw"]
    assert build_args(plain) == night
    refresh = night_tags("2026-11-20", full_refresh=True)
    assert refresh[FULL_REFRESH_TAG] == "1"
    assert build_args(refresh) == [*night, "--full-refresh"]
    assert "--full-refresh" not in build_args({FULL_REFRESH_TAG: "0"})
    # the CLI flag reaches the night
    import orchestration.cli as cli

    seen = {}
    monkeypatch.setattr(cli, "run_nightly", lambda as_of, **kw: seen.update(as_of=as_of, **kw) or True)
    monkeypatch.setattr(cli, "print_status", lambda: None)
    assert main(["nightly", "--as-of", "2026-11-20", "--full-refresh"]) == 0
    assert seen == {"as_of": "2026-11-20", "make_current": False, "full_refresh": True}


def test_a_full_refresh_backfill_refreshes_until_a_night_succeeds(monkeypatch):
    import orchestration.cli as cli

    outcomes = {"2026-11-01": False, "2026-11-02": True, "2026-11-03": True}
    seen = []

    def run_nightly(as_of, full_refresh=False, **_):
        seen.append((as_of, full_refresh))
        return outcomes[as_of]

    monkeypatch.setattr(cli, "run_nightly", run_nightly)
    monkeypatch.setattr(cli, "print_status", lambda: None)
    argv = ["backfill", "--from", "2026-11-01", "--to", "2026-11-03"]
    assert cli.main([*argv, "--full-refresh"]) == 1  # one failed night
    # the failed first night did not rebuild: the next one does; after a green refresh, incremental nights
    assert seen == [("2026-11-01", True), ("2026-11-02", True), ("2026-11-03", False)]
    seen.clear()
    assert cli.main(argv) == 1
    assert [refresh for _, refresh in seen] == [False, False, False]


def test_the_night_dbt_resource_skips_only_the_version_subprocess_and_the_adapter_handle():
    import subprocess

    from dagster_dbt import DbtCliResource

    from orchestration.dbt_resource import NightDbtCliResource
    from orchestration.resources import dbt_resource

    resource = dbt_resource()
    assert isinstance(resource, NightDbtCliResource)
    # the methods replaced still exist upstream (a dagster-dbt upgrade that renames them fails here)
    assert "_cli_version" in vars(DbtCliResource) and "_initialize_dbt_core_adapter" in vars(DbtCliResource)
    # the version it assumes is the one the real executable reports
    out = subprocess.run(["dbt", "--version"], capture_output=True, text=True, check=True).stdout
    assert f"installed: {resource._cli_version}" in out.replace("- installed:", "installed:")
    assert resource._cli_version.major < 2  # dbt Core: the event stream parses dbt Core's log format
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_another_dbt_executable_is_still_asked_for_its_version(monkeypatch, tmp_path):
    from orchestration.resources import dbt_resource

    fake = tmp_path / "dbt-fusion"
    fake.write_text("#!/bin/sh\necho 'dbt-fusion 2.0.0-preview.1'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("OPSCENTER_DBT", str(fake))
    resource = dbt_resource().model_copy(update={"dbt_executable": str(fake)})
    assert str(resource._cli_version) == "2.0.0"


def test_a_models_folded_tests_are_one_asset_check_each():
    """A model's not-null and accepted-values columns are one dbt test node each (tests/generic/), so one
    Dagster asset check each, named after the model; the singular assert_* tests stay checks of their own."""
    checks = {}
    for key in dbt_models.check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    assert sorted(n for n in checks["marts/mart_progress_board"] if "values" in n) == [
        "accepted_values_columns_mart_progress_board"
    ]
    assert "accepted_values_columns_stg_tasks" in checks["staging/stg_tasks"]
    assert "not_null_columns_stg_tasks" in checks["staging/stg_tasks"]
    names = [n for names in checks.values() for n in names]
    folded = [n for n in names if n.startswith("accepted_values_")]
    assert len(folded) >= 38 and all(n.startswith("accepted_values_columns_") for n in folded)
    assert all(checks[a].count(f"accepted_values_columns_{a.split('/')[-1]}") <= 1 for a in checks)
    assert any(n.startswith("assert_") for n in names)
