"""Upgrade nights: the night switches its incremental dbt models to the full-refresh path by itself.

The incremental models (fingerprint-incremental: the payment rule per cutoff, the forecast components,
the task chain, the period marts) decide what to rebuild by input fingerprints that include their own
SQL. After a change of that SQL every fingerprint changes and the next night rebuilds every key through
the incremental path: slower than a fresh build and, at 100,000 clients, over dbt's 3 GB memory limit
(docs/benchmarks.md, "Money models ... part 2"). A change the fingerprints do not see (a macro, a hook in
dbt_project.yml, a var, an upstream model whose output the fingerprint does not hash) would even keep
stale rows. So the warehouse records, per incremental model, the code state its table was built with,
and a night whose code state differs rebuilds that model from scratch.

Code state of an incremental model = a hash of the code of the model **and of every node upstream of it**
(models and seeds; sources are data): per node its file checksum (dbt's sha256 of the file), its config
(materialization, hooks, ...; not docs/tags/meta), its contract checksum, the text of every macro it
calls (transitively; for an incremental model also the materialization's), and the values of the project
vars its SQL or those macros read (dbt_project.yml); plus the versions of DuckDB, dbt-core and dbt-duckdb
(the fingerprints are DuckDB `hash()` values, which a DuckDB upgrade may change: every fingerprint would
differ, the slow path again; dbt's own macros are already in the macro texts). Ancestors are in it
because an incremental model's rows are computed from them: a changed upstream model changes the rows
without necessarily changing the model's fingerprints (the fingerprints hash chosen inputs), and when it
does change them it changes all of them (the slow path above). An incremental descendant of a changed
model has the changed model among its ancestors, so it is refreshed with it: required, since the
descendants' fingerprints embed the upstream fingerprints (the period marts hash fct_tasks' pairs, the
forecast's hash the rule's cutoff fingerprints) and would otherwise either rebuild every key
incrementally or, for a change outside the fingerprints, keep rows computed from the old upstream rows.

Only the changed incremental models are refreshed (through `OPSCENTER_FULL_REFRESH_MODELS`, read by
the project's `should_full_refresh` macro, macros/full_refresh.sql), not the whole project: the others'
state is unchanged and their fingerprints hold as on any night. Models configured `full_refresh=false`
(mart_alert_history: the alert history, by design) are never refreshed and not recorded.

The record lives in the warehouse (`ops.dbt_code_state`): it describes the warehouse's tables, so it
travels with the file (copies, backups, restores, the benchmark's copied warehouses) and disappears with
it; a file beside the warehouse could be separated from it. A model's row is written after a dbt
invocation that succeeded, for the models it built (run_results status `success`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RECORD_TABLE = "ops.dbt_code_state"
# libyaml's parser when PyYAML has it: the same documents as safe_load, ~6x less CPU
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# the environment variable the project's should_full_refresh() macro reads (macros/full_refresh.sql)
MODELS_ENV = "OPSCENTER_FULL_REFRESH_MODELS"
# config keys that do not change what a model computes
_IGNORED_CONFIG = frozenset({"tags", "meta", "docs", "persist_docs", "grants", "group", "access", "enabled"})
_VAR_CALL = re.compile(r"(?<![\w.])var\(\s*['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]")


def _sha(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def engine_versions() -> dict[str, str]:
    """The versions of what computes the tables and their fingerprints."""
    from importlib.metadata import version

    return {package: version(package) for package in ("duckdb", "dbt-core", "dbt-duckdb")}


def project_vars(project_dir: Path) -> dict[str, Any]:
    """The project's vars as dbt_project.yml sets them (the night passes no --vars)."""
    text = (Path(project_dir) / "dbt_project.yml").read_text(encoding="utf-8")
    project = yaml.load(text, Loader=SAFE_LOADER)
    return dict(project.get("vars") or {})


def incremental_models(manifest: Mapping[str, Any]) -> list[str]:
    """unique_ids of the incremental models a full refresh rebuilds (not those with full_refresh=false)."""
    return sorted(
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["config"].get("materialized") == "incremental"
        and node["config"].get("full_refresh") is not False
    )


def _materialization(manifest: Mapping[str, Any], name: str) -> list[str]:
    """The materialization macro dbt would use: the adapter's, else dbt's default."""
    adapter = manifest["metadata"].get("adapter_type", "")
    macros = manifest["macros"]
    for suffix in (adapter, "default"):
        hits = sorted(uid for uid, m in macros.items() if m["name"] == f"materialization_{name}_{suffix}")
        if hits:
            return hits[:1]
    return []


def code_states(
    manifest: Mapping[str, Any], variables: Mapping[str, Any], engine: Mapping[str, str] | None = None
) -> dict[str, str]:
    """{model name: code state} of every incremental model (see the module doc); `engine`: package
    versions (engine_versions())."""
    nodes, macros = manifest["nodes"], manifest["macros"]
    macro_hash: dict[str, str] = {}

    def macro_closure(roots: Iterable[str]) -> set[str]:
        seen, todo = set(), list(roots)
        while todo:
            uid = todo.pop()
            if uid in seen or uid not in macros:
                continue
            seen.add(uid)
            todo.extend(macros[uid]["depends_on"]["macros"])
        return seen

    def macro_state(uid: str) -> str:
        if uid not in macro_hash:
            macro_hash[uid] = _sha(macros[uid]["macro_sql"])
        return macro_hash[uid]

    own: dict[str, str] = {}

    def own_state(uid: str) -> str:
        if uid not in own:
            node = nodes[uid]
            roots = list(node.get("depends_on", {}).get("macros", []))
            if node["config"].get("materialized") == "incremental":
                roots += _materialization(manifest, "incremental")
            used = sorted(macro_closure(roots))
            texts = [node.get("raw_code") or ""] + [macros[m]["macro_sql"] for m in used]
            names = sorted({v for text in texts for v in _VAR_CALL.findall(text)})
            own[uid] = _sha(
                {
                    "checksum": node.get("checksum", {}).get("checksum"),
                    "config": {k: v for k, v in node["config"].items() if k not in _IGNORED_CONFIG},
                    "contract": (node.get("contract") or {}).get("checksum"),
                    "macros": {m: macro_state(m) for m in used},
                    "vars": {v: variables.get(v) for v in names},
                }
            )
        return own[uid]

    upstream: dict[str, frozenset[str]] = {}

    def ancestors(uid: str) -> frozenset[str]:  # nodes only: sources are data, not code
        if uid not in upstream:
            parents = [p for p in nodes[uid].get("depends_on", {}).get("nodes", []) if p in nodes]
            upstream[uid] = frozenset(parents).union(*(ancestors(p) for p in parents))
        return upstream[uid]

    return {
        nodes[uid]["name"]: _sha(
            {"engine": dict(engine or {}), "nodes": {u: own_state(u) for u in sorted(ancestors(uid) | {uid})}}
        )
        for uid in incremental_models(manifest)
    }


def read_manifest(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class RefreshPlan:
    """What the night's dbt invocations do with the incremental models, and why."""

    flag: bool  # the operator asked for --full-refresh (every incremental model, dbt's own flag)
    models: tuple[str, ...]  # models rebuilt from scratch (all of them when `flag`)
    reason: str  # one line for the log and the Dagster metadata
    per_model: Mapping[str, str] = field(default_factory=dict)  # model -> why it is refreshed

    @property
    def full_refresh(self) -> bool:
        return self.flag or bool(self.models)

    def env(self) -> dict[str, str]:
        """The dbt process's environment for the plan (macros/full_refresh.sql)."""
        return {MODELS_ENV: ",".join(self.models)}


def refresh_plan(
    current: Mapping[str, str], recorded: Mapping[str, str] | None, requested: bool = False
) -> RefreshPlan:
    """Compare tonight's code states with the record. `recorded` None: the warehouse has no record
    (a new warehouse, or one built before records existed): every incremental model is refreshed once."""
    models = tuple(sorted(current))
    if requested:
        return RefreshPlan(
            True, models, "full refresh requested (--full-refresh / run tag opscenter/full_refresh=1)"
        )
    if recorded is None:
        return RefreshPlan(
            False,
            models,
            f"no code-state record in the warehouse ({RECORD_TABLE}: a new warehouse or one built before "
            f"the record existed): all {len(models)} incremental models built from scratch once",
            {m: "no record" for m in models},
        )
    why = {
        m: ("not recorded" if m not in recorded else "code changed")
        for m in models
        if recorded.get(m) != current[m]
    }
    if not why:
        return RefreshPlan(
            False,
            (),
            f"code unchanged since the record: {len(models)} incremental models build incrementally",
        )
    listed = ", ".join(f"{m} ({w})" for m, w in sorted(why.items()))
    return RefreshPlan(
        False,
        tuple(sorted(why)),
        f"code state differs from the record or is not recorded for {len(why)} of {len(models)} incremental"
        f" models: full refresh of {listed}",
        why,
    )


def read_record(conn) -> dict[str, str] | None:
    """{model: code state} from the warehouse; None when it has no record table or no rows."""
    schema, table = RECORD_TABLE.split(".")
    exists = conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    if not exists:
        return None
    rows = conn.execute(f"select model, code_state from {RECORD_TABLE}").fetchall()
    return dict(rows) or None


def built_models(run_results: Mapping[str, Any]) -> set[str]:
    """Names of the models an invocation built successfully."""
    return {
        r["unique_id"].split(".")[-1]
        for r in run_results.get("results", [])
        if r["unique_id"].startswith("model.") and r["status"] == "success"
    }


def write_record(
    conn,
    states: Mapping[str, str],
    built: Iterable[str],
    run_id: str,
    as_of: dt.date,
    full_refresh: Iterable[str],
) -> int:
    """Record the code state of the incremental models just built; drop rows of models that are gone."""
    refreshed = set(full_refresh)
    rows = [(m, states[m], run_id, as_of, m in refreshed) for m in sorted(set(built) & set(states))]
    conn.execute(f"create schema if not exists {RECORD_TABLE.split('.')[0]}")
    conn.execute(
        f"create table if not exists {RECORD_TABLE} (model varchar primary key, code_state varchar not null,"
        " run_id varchar, as_of_date date, full_refresh boolean, recorded_at timestamp)"
    )
    if rows:
        conn.executemany(
            f"insert or replace into {RECORD_TABLE} values (?, ?, ?, ?, ?, current_timestamp)", rows
        )
    names = sorted(states)
    conn.execute(f"delete from {RECORD_TABLE} where model not in (select unnest(?::varchar[]))", [names])
    return len(rows)
