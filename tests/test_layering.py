"""dbt layers read only the layers below them (docs/architecture.md, "Layering rule").

The rule is checked on the manifest of a fresh `dbt parse` (every ref and source a model reads), so a
new model that reads across the layers fails here, not in review. The rule itself is tested on small
hand-made manifests so that this check can fail.
"""

from __future__ import annotations

import json

import pytest

from tests.dbt_helpers import run_dbt

# What each layer may read: the layer of a model is its first folder under models/, a source is
# "source:<source name>" (raw = the loader's tables), seeds are "seed". ml = the renewal model's dbt
# Python models, computed from intermediate data: read like intermediate.
ALLOWED_READS: dict[str, frozenset[str]] = {
    "staging": frozenset({"source:raw"}),
    "intermediate": frozenset({"staging", "intermediate", "core", "seed", "ml"}),
    "core": frozenset({"staging", "intermediate", "core", "seed"}),
    "ml": frozenset({"intermediate", "ml"}),
    # a mart may summarise another mart (mart_alert_summary of mart_alerts), never read staging or raw
    "marts": frozenset({"intermediate", "core", "marts", "seed", "ml"}),
}


def layer_of(node: dict) -> str:
    if node["resource_type"] == "source":
        return f"source:{node['source_name']}"
    if node["resource_type"] == "model":
        return node["original_file_path"].split("/")[1]  # models/<layer>/...
    return node["resource_type"]


def layering_violations(manifest: dict) -> list[str]:
    """Every model → dependency edge the rule forbids, as 'layer model reads layer dependency'."""
    found = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        layer = layer_of(node)
        for dep_id in node["depends_on"]["nodes"]:
            dep = manifest["nodes"].get(dep_id) or manifest["sources"][dep_id]
            if layer_of(dep) not in ALLOWED_READS.get(layer, frozenset()):
                found.append(f"{layer} {node['name']} reads {layer_of(dep)} {dep['name']}")
    return sorted(found)


def _model(name: str, path: str, *deps: str) -> tuple[str, dict]:
    node = {
        "resource_type": "model",
        "name": name,
        "original_file_path": path,
        "depends_on": {"nodes": list(deps)},
    }
    return f"model.p.{name}", node


def _manifest(*models: tuple[str, dict]) -> dict:
    raw = {"resource_type": "source", "name": "clients", "source_name": "raw"}
    return {"nodes": dict(models), "sources": {"source.p.raw.clients": raw}}


def test_rule_flags_a_model_reading_a_mart_or_a_mart_reading_staging():
    stg = _model("stg_clients", "models/staging/stg_clients.sql", "source.p.raw.clients")
    dim = _model("dim_clients", "models/core/dim_clients.sql", "model.p.stg_clients")
    mart = _model("mart_x", "models/marts/x/mart_x.sql", "model.p.dim_clients")
    assert layering_violations(_manifest(stg, dim, mart)) == []

    int_on_mart = _model("int_y", "models/intermediate/y/int_y.sql", "model.p.mart_x")
    core_on_mart = _model("fct_z", "models/core/fct_z.sql", "model.p.mart_x")
    mart_on_stg = _model("mart_w", "models/marts/w/mart_w.sql", "model.p.stg_clients")
    mart_on_raw = _model("mart_v", "models/marts/v/mart_v.sql", "source.p.raw.clients")
    manifest = _manifest(stg, dim, mart, int_on_mart, core_on_mart, mart_on_stg, mart_on_raw)
    assert layering_violations(manifest) == [
        "core fct_z reads marts mart_x",
        "intermediate int_y reads marts mart_x",
        "marts mart_v reads source:raw clients",
        "marts mart_w reads staging stg_clients",
    ]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("layering_target")
    run_dbt(["parse"], target / "unused.duckdb", "2026-11-20", target)
    return json.loads((target / "manifest.json").read_text())


def test_project_follows_the_layering_rule(manifest):
    assert layering_violations(manifest) == []


def test_every_model_lives_in_a_known_layer(manifest):
    layers = {layer_of(n) for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert layers == set(ALLOWED_READS)


def test_alert_models_read_no_mart(manifest):
    """The alerts read the int_ models the report marts also read (the point of the rule for alerts)."""
    alert_models = [n for n in manifest["nodes"].values() if n["name"].startswith("int_alerts_")]
    assert {n["name"] for n in alert_models} >= {"int_alerts_current", "int_alerts_churn_risk"}
    for node in alert_models:
        assert not [d for d in node["depends_on"]["nodes"] if ".mart_" in d], node["name"]
