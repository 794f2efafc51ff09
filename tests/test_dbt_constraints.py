"""not_null as a contract constraint instead of a test node (docs/benchmarks.md, dbtplans): DuckDB checks
a `not_null` constraint inside the build's own insert, so the column needs no separate test query and no
dbt node. That only holds where the constraint is really enforced; read from the parsed manifest."""

from __future__ import annotations

import json

import pytest

from orchestration.assets.dbt import dbt_project


@pytest.fixture(scope="module")
def nodes() -> dict:
    return json.loads(dbt_project.manifest_path.read_text())["nodes"]


def _not_null_constrained(node: dict) -> list[str]:
    return [
        name
        for name, col in node["columns"].items()
        if any(c["type"] == "not_null" for c in col.get("constraints", []))
    ]


def test_not_null_constraints_only_where_a_contract_enforces_them(nodes):
    # without an enforced contract dbt ignores a column constraint (a warning), the column goes unchecked;
    # on an incremental model dbt creates the constraint only with the table: such a model must add what
    # its table lacks (the post-hook apply_not_null_constraints; tests/test_incremental_nights.py)
    constrained = {
        n["name"]: n for n in nodes.values() if n["resource_type"] == "model" and _not_null_constrained(n)
    }
    assert len(constrained) >= 20  # core facts and dimensions, the payment cutoff inputs, four mart folders
    for name, node in constrained.items():
        assert node["config"]["contract"]["enforced"], name
        hooks = " ".join(h["sql"] for h in node["config"]["post-hook"])
        assert node["config"]["materialized"] == "table" or "apply_not_null_constraints()" in hooks, name
        for col in node["columns"].values():
            assert col.get("data_type"), (name, col["name"])


def test_a_constrained_column_has_no_not_null_test_left(nodes):
    tested = {
        (dep, n["test_metadata"]["kwargs"].get("column_name"))
        for n in nodes.values()
        if n["resource_type"] == "test" and (n.get("test_metadata") or {}).get("name") == "not_null"
        for dep in n["depends_on"]["nodes"]
    }
    constrained = {
        (uid, col)
        for uid, n in nodes.items()
        if n["resource_type"] == "model"
        for col in _not_null_constrained(n)
    }
    assert constrained and not constrained & tested
    # the incremental models keep their not_null tests (an existing table never gets the constraint)
    history = next(uid for uid, n in nodes.items() if n["name"] == "mart_alert_history")
    assert (history, "episode_key") in tested
