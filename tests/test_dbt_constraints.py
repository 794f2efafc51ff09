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


def _not_null_tested(nodes: dict) -> dict[tuple[str, str], str]:
    """{(model, column): test kind} of the models' and seeds' not-null tests (sources excluded)."""
    tested = {}
    for n in nodes.values():
        kind = (n.get("test_metadata") or {}).get("name")
        if n["resource_type"] != "test" or not n.get("attached_node"):
            continue
        kwargs = n["test_metadata"]["kwargs"] if kind else {}
        columns = {"not_null": [kwargs.get("column_name")], "not_null_columns": kwargs.get("column_names")}
        for col in columns.get(kind) or []:
            tested[(n["attached_node"], col)] = kind
    return tested


def test_a_constrained_column_has_no_not_null_test_left(nodes):
    tested = set(_not_null_tested(nodes))
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


def test_a_models_not_null_columns_are_one_test_node(nodes):
    # one not_null_columns node per model or seed (dbt_project/tests/generic/not_null_columns.sql): a
    # test node costs dbt ~40 ms CPU outside its SQL; no column-level not_null is left beside it
    tested = _not_null_tested(nodes)
    assert len(tested) >= 100 and set(tested.values()) == {"not_null_columns"}
    per_model = [
        n["attached_node"]
        for n in nodes.values()
        if (n.get("test_metadata") or {}).get("name") == "not_null_columns"
    ]
    assert len(per_model) == len(set(per_model))


def test_a_models_accepted_values_are_one_test_node(nodes):
    # one accepted_values_columns node per model or seed (tests/generic/accepted_values_columns.sql),
    # named after it, mapping each column to its values; no column-level accepted_values is left beside
    # it (79 nodes of 38 models before: docs/benchmarks.md, avfold), and each column's description still
    # names the values it may hold (the folded test no longer shows on the column in the docs)
    tests = [n for n in nodes.values() if n["resource_type"] == "test"]
    kinds = {(n.get("test_metadata") or {}).get("name") for n in tests}
    assert "accepted_values" not in kinds
    folded = [n for n in tests if (n.get("test_metadata") or {}).get("name") == "accepted_values_columns"]
    per_model = [n["attached_node"] for n in folded]
    assert len(per_model) == len(set(per_model)) >= 38
    assert {n["name"] for n in folded} == {f"accepted_values_columns_{u.split('.')[-1]}" for u in per_model}
    columns = [
        (n["attached_node"], c, v) for n in folded for c, v in n["test_metadata"]["kwargs"]["columns"].items()
    ]
    assert len(columns) >= 79
    for uid, column, values in columns:
        assert values and column in nodes[uid]["columns"], (uid, column)
        description = nodes[uid]["columns"][column]["description"]
        assert all(str(v) in description for v in values), (uid, column)
    board = next(n for n in folded if n["name"] == "accepted_values_columns_mart_progress_board")
    assert board["test_metadata"]["kwargs"]["columns"]["current_stage_state"] == [
        "not_started", "in_progress", "delayed"
    ]  # fmt: skip
