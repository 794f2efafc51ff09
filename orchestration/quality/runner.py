"""Run the GX suites against the DuckDB warehouse and keep the results as data docs."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from orchestration.quality.config import ERROR, QualityConfig
from orchestration.quality.pushdown import count_sql, violations_sql
from orchestration.quality.suites import CHECKS, FRAMES, NO_DATA_LAG, Check

log = logging.getLogger(__name__)
_GX_SEVERITY = {ERROR: "critical", "warn": "warning"}


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    asset_key: str  # "core/fct_payments", "raw/payments"
    severity: str  # "error" blocks publication, "warn" does not
    passed: bool
    observed: float | int | str | None  # the aggregate value, or the number of failing rows
    message: str  # Chinese, one line
    failing_rows: int | None = None  # row-level checks: how many rows broke the expectation
    label: str = ""
    examples: tuple[str, ...] = ()  # row-level checks: up to 5 offending values (masked in alerts)

    def to_dict(self) -> dict:
        return asdict(self)


def run_quality_suites(
    warehouse: Path,
    as_of_date: dt.date,
    docs_dir: Path | None,
    config: QualityConfig,
    only: Iterable[str] | None = None,
    run_name: str | None = None,
) -> list[CheckOutcome]:
    """Validate the warehouse as of `as_of_date`; write GX data docs into `docs_dir` if given.

    `only` restricts to the named checks (frames no check needs are not queried). The warehouse is
    opened read-only; a frame whose query fails (table missing) fails all of its checks.
    """
    checks = [c for c in CHECKS if only is None or c.name in set(only)]
    data, totals, errors = _query_frames(warehouse, as_of_date, config, checks)
    results = _validate(data, checks, config, docs_dir, run_name or f"{as_of_date.isoformat()}")
    outcomes = []
    for c in checks:
        sev = c.severity(config)
        if c.frame in errors:
            outcomes.append(
                CheckOutcome(
                    c.name,
                    c.asset_key,
                    sev,
                    False,
                    None,
                    f"{c.label}：无法查询 {c.frame}（{errors[c.frame]}）",
                    label=c.label,
                )
            )
            continue
        outcomes.append(_outcome(c, sev, results[c.name], data[c.frame], config, totals.get(c.frame)))
    if docs_dir is not None:
        Path(docs_dir).mkdir(parents=True, exist_ok=True)
        (Path(docs_dir) / "outcomes.json").write_text(
            json.dumps(
                {"as_of_date": as_of_date.isoformat(), "outcomes": [o.to_dict() for o in outcomes]},
                ensure_ascii=False,
                indent=2,
                default=str,
            ),
            encoding="utf-8",
        )
    return outcomes


def _query_frames(warehouse: Path, as_of: dt.date, config: QualityConfig, checks: list[Check]):
    """Each frame's rows (row-level frames: only the rows breaking one of its checks, pushed down to
    SQL — see quality/pushdown.py — with the frame's full row count in `totals`) or its query error."""
    data, totals, errors = {}, {}, {}
    frames = {c.frame for c in checks}
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {
            f"{s}.{t}"
            for s, t in conn.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        for name in sorted(frames):
            sql = FRAMES[name].sql(config, tables)
            params = {"as_of": as_of} if "$as_of" in sql else None
            try:
                if not FRAMES[name].one_row:
                    totals[name] = conn.execute(count_sql(sql), params).fetchone()[0]
                    sql = violations_sql(sql, [c.expectation(config) for c in checks if c.frame == name])
                data[name] = conn.execute(sql, params).df()
            except duckdb.Error as exc:
                errors[name] = str(exc).splitlines()[0]
    finally:
        conn.close()
    return data, totals, errors


def _gx_context(docs_dir: Path | None):
    # GX with analytics off (no network), imported on first use: the night's warm-up thread has
    # usually imported it while the loads ran (orchestration.warmup)
    from orchestration.quality.gx_imports import DataContextConfig, InMemoryStoreBackendDefaults, gx

    sites = {}
    if docs_dir is not None:
        sites["opscenter"] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    cfg = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars={"globally": False},
        data_docs_sites=sites,
    )
    return gx, gx.get_context(mode="ephemeral", project_config=cfg)


def _validate(data: dict, checks: list[Check], config: QualityConfig, docs_dir: Path | None, run_name: str):
    """One GX suite per frame; returns the ExpectationValidationResult of each check by name."""
    gx, ctx = _gx_context(docs_dir)
    from orchestration.quality.gx_imports import RunIdentifier

    source = ctx.data_sources.add_pandas("warehouse")
    by_name = {}
    for frame_name in sorted({c.frame for c in checks if c.frame in data}):
        frame_checks = [c for c in checks if c.frame == frame_name]
        suite = ctx.suites.add(gx.ExpectationSuite(name=frame_name))
        for c in frame_checks:
            cls_name, kwargs = c.expectation(config)
            exp = getattr(gx.expectations, cls_name)(
                **kwargs, severity=_GX_SEVERITY[c.severity(config)], meta={"check": c.name, "label": c.label}
            )
            suite.add_expectation(exp)
        batch = source.add_dataframe_asset(frame_name).add_batch_definition_whole_dataframe("as_of")
        vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=frame_name, data=batch, suite=suite))
        # No per-checkpoint UpdateDataDocsAction: each would rebuild the whole site (every result stored
        # so far, Jinja templates compiled afresh), 1 + 2 + ... + n page renders for n frames; the site
        # is built once below, with the same pages.
        checkpoint = ctx.checkpoints.add(
            gx.Checkpoint(
                name=f"gate_{frame_name}",
                validation_definitions=[vd],
                actions=[],
                result_format={"result_format": "SUMMARY"},
            )
        )
        result = checkpoint.run(
            batch_parameters={"dataframe": data[frame_name]}, run_id=RunIdentifier(run_name=run_name)
        )
        for vr in result.run_results.values():
            for er in vr.results:
                by_name[er.expectation_config.meta["check"]] = er
    if docs_dir is not None and by_name:
        ctx.build_data_docs()
    return by_name


def _fmt(value) -> str:
    if value is None:
        return "无"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _outcome(c: Check, sev: str, er, frame, config: QualityConfig, total_rows: int | None) -> CheckOutcome:
    res = er.result or {}
    if er.exception_info and er.exception_info.get("raised_exception"):
        msg = er.exception_info.get("exception_message", "")
        return CheckOutcome(
            c.name, c.asset_key, sev, False, None, f"{c.label}：检查出错 {msg}", label=c.label
        )
    if c.column is not None:  # aggregate frame: one row, the column is the observation
        row = frame.to_dict("records")[0] if len(frame) else {}  # per-column types kept
        observed = row.get(c.column)
        if observed is not None and observed != observed:  # NaN -> no observation
            observed = None
        if hasattr(observed, "item"):
            observed = observed.item()
        note = c.note(row, config) if c.note else None
        if observed == NO_DATA_LAG:
            text = f"{c.label}：没有任何数据"
        elif er.success:
            text = f"{c.label}：通过（观测值 {_fmt(observed)}）" + (f"；{note}" if note else "")
        else:
            text = f"{c.label}：未通过，观测值 {_fmt(observed)}，范围 {_bounds(er)}"
        return CheckOutcome(c.name, c.asset_key, sev, bool(er.success), observed, text, label=c.label)
    failing = int(res.get("unexpected_count") or 0)
    total = total_rows if total_rows is not None else int(res.get("element_count") or len(frame))
    examples = tuple(_fmt(v) for v in (res.get("partial_unexpected_list") or [])[:5])
    sample = ", ".join(examples)
    if er.success:
        text = f"{c.label}：通过（{total} 行）"
    else:
        text = f"{c.label}：未通过，{failing} / {total} 行超出范围 {_bounds(er)}，例如 {sample}"
    return CheckOutcome(
        c.name,
        c.asset_key,
        sev,
        bool(er.success),
        failing,
        text,
        failing_rows=failing,
        label=c.label,
        examples=() if er.success else examples,
    )


def _bounds(er) -> str:
    kw = er.expectation_config.kwargs
    if "min_value" in kw or "max_value" in kw:
        lo, hi = kw.get("min_value"), kw.get("max_value")
        left = "(" if kw.get("strict_min") else "["
        return f"{left}{_fmt(lo) if lo is not None else '-∞'}, {_fmt(hi) if hi is not None else '+∞'}]"
    return f"{kw.get('column_A')} ≥ {kw.get('column_B')}"
