"""Staging is the contract, not copies that drift: the accepted values are the contract's enums
(orchestration/contract.py), every enum column of every entity tested with exactly its contract codes
and no other column carrying a hand-made list; and the column types macro stage_source casts to
(_sources.yml data_type) are the raw schema's (orchestration/raw_schema.py)."""

from __future__ import annotations

import yaml

from orchestration.contract import ENTITIES, ENUM, ENUMS
from orchestration.raw_schema import column_types
from orchestration.settings import DBT_PROJECT_DIR

STAGING_YML = DBT_PROJECT_DIR / "models" / "staging" / "_staging.yml"


def _accepted_values() -> dict[tuple[str, str], list]:
    """{(entity, column): values} of the staging models' accepted_values_columns tests (one per model,
    tests/generic/accepted_values_columns.sql) and of any column-level accepted_values left."""
    models = yaml.safe_load(STAGING_YML.read_text(encoding="utf-8"))["models"]
    found = {}
    for model in models:
        entity = model["name"].removeprefix("stg_")
        for test in model.get("data_tests", []) or []:
            if isinstance(test, dict) and "accepted_values_columns" in test:
                spec = test["accepted_values_columns"]
                for column, values in spec.get("arguments", spec)["columns"].items():
                    found[(entity, column)] = values
        for col in model.get("columns", []):
            for test in col.get("data_tests", []) or []:
                if isinstance(test, dict) and "accepted_values" in test:
                    spec = test["accepted_values"]
                    values = spec.get("arguments", spec)["values"]
                    found[(entity, col["name"])] = values
    return found


def test_staging_accepted_values_are_the_contract_enums():
    expected = {
        (entity.name, col.name): sorted(ENUMS[col.enum])
        for entity in ENTITIES.values()
        for col in entity.columns
        if col.type == ENUM
    }
    assert expected, "the contract declares no enum columns: the test would check nothing"
    got = {key: sorted(values) for key, values in _accepted_values().items()}
    assert got == expected


SOURCES_YML = DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml"


def test_raw_source_columns_and_types_are_the_contract():
    """macro stage_source casts each staging column to its _sources.yml data_type: those must be the
    raw table's columns and types as orchestration/raw_schema.py derives them from the contract."""
    raw = next(
        s for s in yaml.safe_load(SOURCES_YML.read_text(encoding="utf-8"))["sources"] if s["name"] == "raw"
    )
    declared = {
        t["name"]: [(c["name"], c.get("data_type")) for c in t.get("columns", [])]
        for t in raw["tables"]
        if t["name"] in ENTITIES
    }
    expected = {e: [(n, t.lower()) for n, t in column_types(e)] for e in ENTITIES}
    assert declared == expected
