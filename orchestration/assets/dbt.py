"""dbt models as Dagster assets: staging → intermediate → core → marts, tests as asset checks.

dbt gets the warehouse from the `warehouse` resource (OPSCENTER_WAREHOUSE in the environment of the
dbt CLI invocation only; the profile reads it). One night = one dbt invocation (the renewal model is
a pair of dbt Python models, models/ml, so no Dagster asset sits between dbt nodes and splits the op)
and one dbt target folder; should a selection split the op, its invocations share the folder, the
vars and the profile, so one partial-parse state. The folder starts from
the previous night's parse (or the project's) and the as-of date reaches dbt as DBT_AS_OF_DATE, not as
a var (a changed var discards the partial parse), so a night re-parses only what changed in the
project, usually nothing.
The console gets a summary per invocation; dbt's full output goes to `<target>/dbt_console.log`,
whose path the summary prints.
Upgrade nights: before each invocation the incremental models' code state (the manifest Dagster loaded)
is compared with the one recorded in the warehouse; changed models are rebuilt from scratch in the same
invocation, and a green invocation records what it built (orchestration/code_state.py).
"""

import contextlib
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration import code_state, settings
from orchestration.checks import run_docs_dir
from orchestration.contract import ENTITIES
from orchestration.dbt_manifest import ensure_fresh_manifest
from orchestration.failure_report import dbt_failure
from orchestration.quality.dbt_tests import record_failures
from orchestration.resources import WarehouseResource
from orchestration.run_config import FULL_REFRESH_TAG, AsOfConfig

ensure_fresh_manifest()  # the manifest below describes the project on disk (orchestration/dbt_manifest.py)
dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)
KEEP_NIGHTS = 10  # per-night dbt target folders kept (artifacts and full logs of recent nights)
LOADER_KEYS = [dg.AssetKey(["raw", entity]) for entity in ENTITIES]  # orchestration/assets/raw.py


class OpsDbtTranslator(DagsterDbtTranslator):
    """Keys by layer, groups by domain, as the folders say.

    Keys are dagster-dbt's defaults: <schema>/<model> for models and seeds (every folder configures its
    schema in dbt_project.yml), <source>/<table> for sources, so raw.<entity> are the loader assets
    and ml.<table> the Python model assets. Groups follow the folder: a model under
    intermediate/<domain>/ or marts/<domain>/ joins its domain's group (ar, payments, renewals, ...),
    the layers without domains (staging, core) and the seeds are a group each.
    """

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None):
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec
        spec = spec.replace_attributes(group_name=domain_of(props))
        if not props.get("depends_on", {}).get("nodes"):
            # A node that reads nothing (the seeds, int_cutoff_dates) would get a Dagster step of its own
            # before the loaders: one more dbt process per night (~5 CPU s of start-up, manifest and
            # artifacts for 25 nodes at 10,000 clients, docs/benchmarks.md, dbtnight). After the loaders
            # it runs in the night's main dbt invocation instead.
            spec = spec.merge_attributes(deps=LOADER_KEYS)
        return spec


def domain_of(props: Mapping[str, Any]) -> str:
    """models/<layer>/<domain>/<model>.sql → domain; models/<layer>/<model>.sql → layer; seeds → seeds."""
    if props["resource_type"] == "seed":
        return "seeds"
    folders = props["fqn"][1:-1]  # fqn: project, folders..., name
    return folders[1] if len(folders) > 1 else folders[0]


translator = OpsDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def night_target_path(run_id: str, root: Path = settings.DBT_NIGHTS_DIR) -> Path:
    """The run's dbt target folder; older nights beyond KEEP_NIGHTS are removed."""
    path = root / run_id
    if not path.exists():
        path.mkdir(parents=True)
        nights = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for old in nights[:-KEEP_NIGHTS]:
            shutil.rmtree(old, ignore_errors=True)
    return path


def seed_partial_parse(target: Path, sources: Iterable[Path] | None = None) -> None:
    """Start a night's fresh target folder from an earlier parse: the newest earlier night's, else the
    project's own (`make dbt-parse`). dbt then re-parses only the files that changed since, usually
    none. (dbt discards the state when the profile's connection differs, e.g. another warehouse path:
    the previous night of the same warehouse is the source that holds.)"""
    if (target / "partial_parse.msgpack").exists():
        return
    if sources is None:
        nights = [p for p in target.parent.iterdir() if p.is_dir() and p != target]
        sources = [
            *sorted(nights, key=lambda p: p.stat().st_mtime, reverse=True),
            settings.DBT_PROJECT_DIR / "target",
        ]
    for folder in sources:
        if (folder / "partial_parse.msgpack").is_file():
            shutil.copyfile(folder / "partial_parse.msgpack", target / "partial_parse.msgpack")
            return


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set variables for the dbt CLI process started inside the block (dagster-dbt copies os.environ)."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _quietly(events, log) -> Iterator[Any]:
    """dagster-dbt echoes every dbt line to stdout: send those lines to the log file instead."""
    it = iter(events)
    while True:
        with contextlib.redirect_stdout(log):
            try:
                event = next(it)
            except StopIteration:
                return
        yield event


def summarize(run_results: dict) -> tuple[str, list[str]]:
    """One line of counts per status, and a line per node that did not pass."""
    results = run_results.get("results", [])
    counts = Counter(r["status"] for r in results)
    line = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    elapsed = run_results.get("elapsed_time") or 0
    problems = [
        f"{r['status'].upper()} {r['unique_id']}: {(r.get('message') or '').strip()[:300]}"
        for r in results
        if r["status"] in ("error", "fail", "warn")
    ]
    return f"dbt: {len(results)} nodes in {elapsed:.0f}s ({line or 'nothing selected'})", problems


def build_args(tags: Mapping[str, str]) -> list[str]:
    """The night's dbt arguments from its run tags: `--full-refresh` when FULL_REFRESH_TAG is "1"."""
    args = [
        "build",
        # should Dagster split this op (a subset run), "buildable" runs a multi-parent test only in
        # the step where all its parents exist, not eagerly before the later ones are built.
        "--indirect-selection",
        "buildable",
        # the raw sources' dbt tests (unique / not_null keys: the loader dedups by key, the raw gate
        # checks the loads) are no Dagster checks and never ran in a night: the nights split around
        # the renewal model selected models by name. One op selects `fqn:*`, which would add them (14).
        "--exclude",
        "source:raw",
    ]
    return args + (["--full-refresh"] if tags.get(FULL_REFRESH_TAG) == "1" else [])


def refresh_plan_for(
    warehouse: Path, requested: bool, manifest_path: Path = dbt_project.manifest_path
) -> tuple[dict[str, str], code_state.RefreshPlan]:
    """Tonight's code states of the incremental models and what to refresh, against the warehouse's
    record (none when the warehouse file does not exist yet)."""
    states = code_state.code_states(
        code_state.read_manifest(manifest_path),
        code_state.project_vars(Path(manifest_path).parent.parent),
        code_state.engine_versions(),
    )
    recorded = None
    if Path(warehouse).exists():  # the same connection mode as the night's other steps (one instance)
        with duckdb.connect(str(warehouse)) as conn:
            recorded = code_state.read_record(conn)
    return states, code_state.refresh_plan(states, recorded, requested)


def _with_build_metadata(events, plan: code_state.RefreshPlan, states: Mapping[str, str]) -> Iterator[Any]:
    """Each incremental model's materialization says how it was built tonight, and why."""
    for event in events:
        uid = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
        name = str(uid.value).split(".")[-1] if uid is not None else None
        if name in states:
            refreshed = name in plan.models
            event = event.with_metadata(
                {
                    **event.metadata,
                    "opscenter/build": "full refresh" if refreshed else "incremental",
                    "opscenter/build_reason": plan.per_model.get(name, plan.reason)
                    if refreshed
                    else plan.reason,
                }
            )
        yield event


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=translator, name="dbt_models")
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: AsOfConfig
):
    as_of = config.resolve(context)
    # A step of seeds/calendars may run before any loader has created the warehouse file.
    warehouse.file.parent.mkdir(parents=True, exist_ok=True)
    target = night_target_path(context.run.run_id)
    console_log = target / "dbt_console.log"
    args = build_args(context.run.tags)
    states, plan = refresh_plan_for(warehouse.file, "--full-refresh" in args)
    (context.log.warning if plan.full_refresh else context.log.info)(f"incremental models: {plan.reason}")
    seed_partial_parse(target)
    (target / "run_results.json").unlink(missing_ok=True)  # the summary reads this invocation's only
    # as_of_date goes in the environment, not --vars: changed vars discard dbt's partial-parse state
    # (macros/as_of.sql), so with the var every night would re-parse the whole project
    env = {"OPSCENTER_WAREHOUSE": str(warehouse.file), "DBT_AS_OF_DATE": as_of.isoformat(), **plan.env()}
    with _environment(**env):
        invocation = dbt.cli(args, context=context, target_path=target, raise_on_error=False)
    results: dict = {}
    try:
        with console_log.open("a", encoding="utf-8") as log:
            yield from _with_build_metadata(_quietly(invocation.stream(), log), plan, states)
    finally:
        try:
            results = invocation.get_artifact("run_results.json")
            summary, problems = summarize(results)
        except (OSError, ValueError):  # dbt stopped before it ran anything (e.g. a compilation error)
            summary, problems = "dbt: no run results", []
        context.log.info(f"{summary}; full log: {console_log}")
        for line in problems:
            context.log.warning(line)
    named = []
    if problems:  # dbt has exited: name the failing rows' keys for the alert and the quality report
        report = run_docs_dir(as_of, context.run.run_id) / "dbt_tests"
        named = [f for f in record_failures(target, warehouse.file, report) if f["severity"] == "error"]
    if invocation.is_successful():  # green: the incremental tables it built now hold tonight's code state
        with warehouse.connect() as conn:
            n = code_state.write_record(
                conn, states, code_state.built_models(results), context.run.run_id, as_of, plan.models
            )
        context.log.info(f"code state recorded for {n} incremental model(s) ({code_state.RECORD_TABLE})")
    else:
        lines = "; ".join(dbt_failure(f).line() for f in named[:3])
        raise dg.Failure(
            f"dbt build failed ({len(problems)} node(s) with errors){': ' + lines if lines else ''}; "
            f"full log: {console_log}"
        )
