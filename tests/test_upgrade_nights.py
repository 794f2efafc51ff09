"""Upgrade nights switch the changed incremental models to the full-refresh path by themselves
(orchestration/code_state.py, macros/full_refresh.sql, assets/dbt.py).

Unit tests of the decision on small hand-made manifests, then one sequence of real dbt nights on
tests/test_incremental_nights.py's hand-made firm, in a copy of the dbt project (so one model's SQL can
change), each night as the dbt asset runs it: the plan from the project's manifest and the warehouse's
record, dbt with the plan's environment, the record written after a green invocation:

  night 1 (2024-06-28): dbt as before this change: the warehouse has incremental tables and no record.
  night 2 (2024-06-29, night_2's corrections): no record -> every incremental model from scratch, once.
  upgrade: a comment is added to int_payment_applications_client.sql (dbt's checksum changes on any text
           change: a comment counts as a change, which is safe) and the project is re-parsed.
  night 3 (2024-07-01, night_3's corrections): that model and its incremental descendants
           (int_payment_applications_at_cutoffs, int_forecast_components) from scratch, the other
           incremental models incrementally; every table equals a from-scratch build of the same raw rows.
  night 4 (2024-07-01 again, no change): every incremental model incremental.

Whether dbt took the full-refresh path is read from the SQL it ran (target/run/...): an append model
built incrementally starts with `insert into` the existing table, a full build creates a new table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration import code_state as cs
from orchestration.assets.dbt import refresh_plan_for
from orchestration.benchmark import HISTORY_BY_DESIGN, table_hashes
from tests import dbt_helpers as h

# ------------------------------------------------------------------------------------ the decision


def _manifest(**extra_nodes) -> dict:
    """stg (view) -> a (incremental) -> b (incremental) -> m (table); c (incremental) from stg;
    h (incremental, full_refresh=false); a calls macro fp, which calls helper."""

    def node(name, materialized, parents=(), macros=(), code="select 1", full_refresh=None):
        return {
            "name": name,
            "resource_type": "model",
            "raw_code": code,
            "checksum": {"name": "sha256", "checksum": f"sum-{name}-{code}"},
            "config": {
                "materialized": materialized,
                "full_refresh": full_refresh,
                "tags": [],
                "post-hook": [],
            },
            "contract": {"checksum": None},
            "depends_on": {"nodes": [f"model.p.{p}" for p in parents], "macros": list(macros)},
        }

    nodes = {
        "model.p.stg": node("stg", "view"),
        "model.p.a": node("a", "incremental", ["stg"], ["macro.p.fp"]),
        "model.p.b": node("b", "incremental", ["a"], code="select * from a where x > {{ var('limit') }}"),
        "model.p.m": node("m", "table", ["b"]),
        "model.p.c": node("c", "incremental", ["stg"]),
        "model.p.h": node("h", "incremental", ["b"], full_refresh=False),
    }
    for name, changes in extra_nodes.items():
        nodes[f"model.p.{name}"] = {**nodes[f"model.p.{name}"], **changes}
    macro = {
        "macro.p.fp": {
            "name": "fp",
            "macro_sql": "{{ helper() }}",
            "depends_on": {"macros": ["macro.p.helper"]},
        },
        "macro.p.helper": {"name": "helper", "macro_sql": "hash(x)", "depends_on": {"macros": []}},
        "macro.dbt.materialization_incremental_default": {
            "name": "materialization_incremental_default",
            "macro_sql": "incremental",
            "depends_on": {"macros": []},
        },
    }
    return {"metadata": {"adapter_type": "duckdb"}, "nodes": nodes, "macros": macro}


def _changed(manifest: dict, variables=None, base_vars=None) -> list[str]:
    before = cs.code_states(_manifest(), base_vars or {"limit": 1})
    return list(cs.refresh_plan(cs.code_states(manifest, variables or {"limit": 1}), before).models)


def test_states_cover_the_incremental_models_except_full_refresh_false():
    assert sorted(cs.code_states(_manifest(), {})) == ["a", "b", "c"]


def test_unchanged_code_refreshes_nothing():
    plan = cs.refresh_plan(cs.code_states(_manifest(), {}), cs.code_states(_manifest(), {}))
    assert (plan.models, plan.full_refresh, plan.env()) == ((), False, {cs.MODELS_ENV: ""})
    assert "unchanged" in plan.reason


def test_a_changed_model_refreshes_itself_and_its_incremental_descendants_only():
    stg = _manifest()["nodes"]["model.p.a"]
    changed = _manifest(a={"checksum": {"name": "sha256", "checksum": "other"}, "raw_code": stg["raw_code"]})
    assert _changed(changed) == ["a", "b"]  # not c (a sibling), not h (full_refresh=false)


def test_an_upstream_model_a_macro_a_hook_and_a_var_are_code_changes():
    assert _changed(_manifest(stg={"checksum": {"name": "sha256", "checksum": "new"}})) == ["a", "b", "c"]
    m = _manifest()
    m["macros"]["macro.p.helper"]["macro_sql"] = "hash(x, y)"  # called by a's macro, not by a itself
    assert _changed(m) == ["a", "b"]
    hooked = _manifest()
    hooked["nodes"]["model.p.c"]["config"]["post-hook"] = [{"sql": "delete from c", "transaction": True}]
    assert _changed(hooked) == ["c"]
    assert _changed(_manifest(), variables={"limit": 2}) == ["b"]  # only b reads var('limit')
    assert _changed(_manifest(), variables={"limit": 1, "other": 5}) == []  # a var nobody reads
    m = _manifest()
    m["macros"]["macro.dbt.materialization_incremental_default"]["macro_sql"] = "new dbt"  # a dbt upgrade
    assert _changed(m) == ["a", "b", "c"]
    before = cs.code_states(_manifest(), {}, {"duckdb": "1.4.1"})  # a DuckDB upgrade may change hash()
    assert cs.refresh_plan(cs.code_states(_manifest(), {}, {"duckdb": "1.5.0"}), before).models == (
        "a",
        "b",
        "c",
    )


def test_docs_and_tags_are_not_code_changes():
    tagged = _manifest()
    tagged["nodes"]["model.p.a"]["config"]["tags"] = ["nightly"]
    tagged["nodes"]["model.p.a"]["config"]["meta"] = {"owner": "money"}
    tagged["nodes"]["model.p.a"]["config"]["docs"] = {"show": False}
    tagged["nodes"]["model.p.a"]["description"] = "新的说明"
    assert _changed(tagged) == []


def test_no_record_refreshes_every_incremental_model_once_and_says_why():
    plan = cs.refresh_plan(cs.code_states(_manifest(), {}), None)
    assert plan.models == ("a", "b", "c") and not plan.flag
    assert "no code-state record" in plan.reason and plan.per_model == {m: "no record" for m in "abc"}
    assert plan.env() == {cs.MODELS_ENV: "a,b,c"}


def test_a_model_missing_from_the_record_is_refreshed():
    states = cs.code_states(_manifest(), {})
    plan = cs.refresh_plan(states, {k: v for k, v in states.items() if k != "c"})
    assert plan.models == ("c",) and plan.per_model == {"c": "not recorded"}


def test_an_explicit_full_refresh_wins():
    states = cs.code_states(_manifest(), {})
    plan = cs.refresh_plan(states, states, requested=True)
    assert plan.flag and plan.models == ("a", "b", "c") and "requested" in plan.reason


def test_the_record_keeps_what_was_built_and_forgets_removed_models():
    conn = duckdb.connect()
    assert cs.read_record(conn) is None
    states = {"a": "s1", "b": "s2"}
    run_results = {
        "results": [
            {"unique_id": "model.p.a", "status": "success"},
            {"unique_id": "model.p.b", "status": "error"},
            {"unique_id": "test.p.not_null_a", "status": "pass"},
        ]
    }
    assert cs.built_models(run_results) == {"a"}
    import datetime as dt

    assert (
        cs.write_record(conn, {**states, "gone": "x"}, ["a", "gone"], "r1", dt.date(2024, 6, 28), ["a"]) == 2
    )
    assert cs.write_record(conn, states, cs.built_models(run_results), "r2", dt.date(2024, 6, 29), []) == 1
    assert cs.read_record(conn) == {"a": "s1"}  # b failed: not recorded; gone: no longer a model
    assert conn.execute(f"select run_id, full_refresh from {cs.RECORD_TABLE}").fetchall() == [("r2", False)]


def test_the_project_s_states_and_the_decision_cost_little(tmp_path):
    """The project's 17 incremental models (mart_alert_history keeps its history: not among them)."""
    states, plan = refresh_plan_for(tmp_path / "none.duckdb", False)
    assert len(states) == 17 and "mart_alert_history" not in states and "fct_tasks" in states
    assert plan.models == tuple(sorted(states))


# ------------------------------------------------------------------------------ real dbt nights

CHANGED = "int_payment_applications_client"
REFRESHED_BY_UPGRADE = [
    "int_forecast_collections_monthly",
    "int_forecast_components",
    "int_payment_applications_at_cutoffs",
    CHANGED,
]
SCHEMAS = ("intermediate", "core", "marts")


def _dbt(project, args, warehouse, as_of, target, env=None) -> None:
    """dbt as the night runs it (as-of date in DBT_AS_OF_DATE, partial parsing on). `parse` is the CLI;
    every other command runs on the project's latest parse (`_parse` keeps a copy of each) through
    the test worker's dbt fork server (tests/dbt_helpers.py), which skips dbt's start-up and the
    partial-parse check: what this module checks is the refresh plan, the record and the SQL dbt ran."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in (cs.MODELS_ENV, "DBT_AS_OF_DATE")},
        "OPSCENTER_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PARTIAL_PARSE": "true",
        **({"DBT_AS_OF_DATE": as_of} if as_of else {}),
        **(env or {}),
    }
    target.mkdir(parents=True, exist_ok=True)
    cmd = ["--no-use-colors", *args, *h.without_ml_models(args), "--project-dir", str(project)]
    cmd += ["--profiles-dir", str(project), "--target-path", str(target), "--log-path", str(target / "logs")]
    if args[0] == "parse":
        cli = [str(h.DBT_EXECUTABLE), *cmd]
        proc = subprocess.run(cli, env=env, capture_output=True, text=True, cwd=target)
    else:
        proc = h._SERVER.run(_PARSES[project][-1], cmd, env, target, target)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr


_PARSES: dict[Path, list[Path]] = {}


def _parse(project: Path, warehouse: Path) -> None:
    """`make dbt-parse` of the project copy: the manifest Dagster loads and the nights seed from. A copy
    of each parse under its own name (the fork server keeps every manifest it has read, by path)."""
    _dbt(project, ["parse"], warehouse, None, project / "target")
    parses = _PARSES.setdefault(project, [])
    parses.append(project.parent / f"parse_{len(parses) + 1}.msgpack")
    shutil.copyfile(project / "target" / "partial_parse.msgpack", parses[-1])


def _full_builds(target, models) -> dict[str, bool]:
    """{incremental model: built from scratch} from the SQL dbt ran."""
    runs = {p.stem: p.read_text() for p in (target / "run").rglob("*.sql") if p.stem in models}
    return {m: not sql.lstrip().lower().startswith("insert into") for m, sql in runs.items()}


def _night(project, warehouse, as_of, target) -> dict:
    """One night as assets/dbt.py runs it (plan, dbt with the plan's environment, record)."""
    manifest = project / "target" / "manifest.json"
    states, plan = refresh_plan_for(warehouse, False, manifest_path=manifest)
    target.mkdir(parents=True)
    _dbt(project, ["run"], warehouse, as_of, target, plan.env())
    results = json.loads((target / "run_results.json").read_text())
    with duckdb.connect(str(warehouse)) as conn:
        cs.write_record(conn, states, cs.built_models(results), target.name, as_of, plan.models)
        record = cs.read_record(conn)
    return {"plan": plan, "states": states, "record": record, "built": _full_builds(target, states)}


@pytest.fixture(scope="module")
def upgrade(tmp_path_factory):
    from tests import test_incremental_nights as firm

    tmp = tmp_path_factory.mktemp("upgrade_nights")
    project = tmp / "dbt_project"
    shutil.copytree(h.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    path = tmp / "warehouse.duckdb"
    conn = h.new_raw_warehouse(path)
    firm.night_1(conn)
    conn.close()
    _parse(project, path)  # `make dbt-parse`: the manifest Dagster loads
    out = {}
    # night 1 as before the record existed: plain dbt, nothing recorded (on the project's parse, as every
    # night below: `_dbt` runs them on it, so no night folder is seeded with a partial-parse file)
    (tmp / "n1").mkdir()
    _dbt(
        project,
        ["build", "--resource-type", "seed", "--resource-type", "model"],
        path,
        "2024-06-28",
        tmp / "n1",
    )
    with duckdb.connect(str(path)) as conn:
        firm.night_2(conn)
    out[2] = _night(project, path, "2024-06-29", tmp / "n2")
    sql = project / "models" / "intermediate" / "payments" / f"{CHANGED}.sql"
    sql.write_text(sql.read_text() + "\n-- upgrade: a comment changes the file's checksum\n")
    _parse(project, path)
    with duckdb.connect(str(path)) as conn:
        firm.night_3(conn)
    out[3] = _night(project, path, "2024-07-01", tmp / "n3")
    out[3]["hashes"] = table_hashes(path, SCHEMAS)
    # from scratch: the same raw rows in a new warehouse, every seed and model built by the changed code
    scratch = tmp / "scratch" / "warehouse.duckdb"
    scratch.parent.mkdir()
    with duckdb.connect(str(scratch)) as conn:
        conn.execute(f"attach '{path}' as night (read_only)")
        conn.execute("create schema raw")
        for (table,) in conn.execute(
            "select table_name from information_schema.tables"
            " where table_catalog = 'night' and table_schema = 'raw'"
        ).fetchall():
            conn.execute(f"create table raw.{table} as select * from night.raw.{table}")
    _dbt(project, ["build", "--resource-type", "seed", "--resource-type", "model"], scratch, "2024-07-01",
         tmp / "scratch_target")  # fmt: skip
    out["scratch"] = table_hashes(scratch, SCHEMAS)
    out[4] = _night(project, path, "2024-07-01", tmp / "n4")
    return out


def test_a_warehouse_without_record_is_refreshed_once(upgrade):
    night = upgrade[2]
    assert night["plan"].models == tuple(sorted(night["states"]))
    assert "no code-state record" in night["plan"].reason
    assert night["built"] == {m: True for m in night["states"]}
    assert night["record"] == night["states"]


def test_an_upgrade_night_refreshes_the_changed_model_and_its_incremental_descendants(upgrade):
    night = upgrade[3]
    assert list(night["plan"].models) == REFRESHED_BY_UPGRADE
    assert night["plan"].per_model == {m: "code changed" for m in REFRESHED_BY_UPGRADE}
    assert {m for m, full in night["built"].items() if full} == set(REFRESHED_BY_UPGRADE)
    assert set(night["built"]) == set(night["states"])  # the others incremental
    assert night["record"] == night["states"] != upgrade[2]["states"]


def test_the_upgrade_night_equals_a_build_from_scratch(upgrade):
    got, scratch = upgrade[3]["hashes"], upgrade["scratch"]
    assert len(scratch) > 90 and "intermediate.int_forecast_components" in scratch
    differ = sorted(t for t in scratch.keys() | got.keys() if got.get(t) != scratch.get(t))
    assert [t for t in differ if t not in HISTORY_BY_DESIGN] == []


def test_an_unchanged_next_night_stays_incremental(upgrade):
    night = upgrade[4]
    assert night["plan"].models == () and "unchanged" in night["plan"].reason
    assert night["built"] == {m: False for m in night["states"]}
    assert night["record"] == upgrade[3]["record"]
