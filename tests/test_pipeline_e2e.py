"""End to end: the whole nightly job, in process, on a small generated firm.

The oracle is independent of the loader and dbt: the generator's own record of what it wrote
(rows per entity, unique keys, the dirty rows it planted at file:line) and totals recomputed here
from the raw files with pandas.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.contract import ENTITIES
from orchestration.resources import LandingZoneResource, WarehouseResource
from orchestration.run_config import AS_OF_TAG
from tests.night import AS_OF
from tests.test_night_faults import REPO, _alive, _children, _nightly, _wait
from tests.test_ops_alerts import webhook  # noqa: F401 - real HTTP receiver on 127.0.0.1


def q(night, sql):
    with duckdb.connect(str(night["warehouse"]), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_job_succeeds(night):
    result = night["result"]
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert result.success, f"failed steps: {failed}"


def builds(result) -> dict[str, tuple[str, str]]:
    """{incremental model: (how it was built, why)} from the night's materialization metadata."""
    out = {}
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        if "opscenter/build" in meta:
            out[event.asset_key.path[-1]] = (
                meta["opscenter/build"].value,
                meta["opscenter/build_reason"].value,
            )
    return out


def incremental_models(night) -> set[str]:
    """The project's incremental models, from the manifest Dagster loaded."""
    from orchestration.assets.dbt import refresh_plan_for

    states, _ = refresh_plan_for(night["root"] / "none.duckdb", False)  # no warehouse: no record read
    return set(states)


def test_the_first_night_builds_incremental_models_from_scratch_and_records_their_code_state(night):
    from orchestration.assets.dbt import refresh_plan_for
    from orchestration.code_state import RECORD_TABLE

    first = builds(night["result"])
    # every incremental model of the project (tests/test_upgrade_nights.py counts them), from scratch
    assert set(first) == incremental_models(night) and {how for how, _ in first.values()} == {"full refresh"}
    # the night's one dbt step (the renewal model runs inside it) finds no record at all
    assert {why for _, why in first.values()} == {"no record"}
    assert first["int_forecast_components"][1] == "no record" and first["fct_tasks"][1] == "no record"
    states, _ = refresh_plan_for(night["root"] / "none.duckdb", False)  # the manifest Dagster loaded
    record = dict(q(night, f"select model, code_state from {RECORD_TABLE}"))
    assert record == states
    assert q(night, f"select distinct run_id, as_of_date::varchar from {RECORD_TABLE}") == [
        (night["result"].run_id, AS_OF.isoformat())
    ]


def test_every_row_is_accounted_for(night):
    summary = night["summary"]
    per_entity = dict(q(night, "select entity, sum(rows_read) from raw.load_files group by entity"))
    for entity in ENTITIES:
        assert per_entity[entity] == summary["rows_written"][entity], entity
    unbalanced = q(night, "select * from raw.load_files where rows_read <> rows_accepted + rows_rejected")
    assert unbalanced == []


def test_rejects_are_exactly_the_planted_dirty_rows(night):
    planted = {(d["file"], d["line"]) for rows in night["summary"]["dirty_rows"].values() for d in rows}
    rejected = set(q(night, "select source_file, source_line from raw.load_rejects"))
    assert rejected == planted
    assert q(night, "select count(*) from raw.load_rejects where reason is null or reason = ''") == [(0,)]


def test_one_row_per_key(night):
    for entity, spec in ENTITIES.items():
        if entity == "targets":
            continue
        key = spec.primary_key[0]
        total, distinct = q(night, f"select count(*), count(distinct {key}) from raw.{entity}")[0]
        assert total == distinct == night["summary"]["unique_keys"][entity], entity


def test_dbt_writes_text_without_dict_fsst(night):
    """dbt's connection disables DuckDB's DICT_FSST string compression (profiles.yml,
    OPSCENTER_DBT_DISABLED_COMPRESSION): it cost most of a table write's CPU. The loader's raw tables keep
    DuckDB's default, so the same night shows what the setting changes."""

    def varchar_compressions(schemas: str) -> set[str]:
        tables = q(
            night,
            f"select table_schema || '.' || table_name from information_schema.tables "
            f"where table_type = 'BASE TABLE' and table_schema in ({schemas})",
        )
        assert tables, schemas
        union = " union all ".join(
            f"select distinct compression from pragma_storage_info('{t}') where segment_type = 'VARCHAR'"
            for (t,) in tables
        )
        return {c for (c,) in q(night, union)}

    assert "DICT_FSST" in varchar_compressions("'raw'")
    dbt_written = varchar_compressions("'intermediate', 'core', 'marts', 'ml'")
    assert dbt_written and "DICT_FSST" not in dbt_written, dbt_written


def _amount(series: pd.Series) -> pd.Series:
    return series.astype(str).map(lambda s: re.sub(r"[¥￥,\s]", "", s)).astype(float)


def test_invoice_total_matches_raw_file(night):
    """Billed total recomputed from the invoices CSV: last version per id, not void, issued ≤ as-of."""
    frames = [pd.read_csv(p, dtype=str) for p in sorted((night["raw"] / "invoices").glob("*.csv"))]
    raw = pd.concat(frames, ignore_index=True)
    raw = raw[pd.to_numeric(raw["amount"], errors="coerce") > 0]
    raw = raw[pd.to_datetime(raw["due_date"]) >= pd.to_datetime(raw["issue_date"])]
    raw = raw.sort_values("updated_at", kind="stable").drop_duplicates("invoice_id", keep="last")
    billed = raw[(raw["status"] != "void") & (pd.to_datetime(raw["issue_date"]).dt.date <= AS_OF)]
    expected = round(_amount(billed["amount"]).sum(), 2)
    got = q(night, "select sum(amount) from core.fct_invoices where not is_void")[0][0]
    assert float(got) == pytest.approx(expected, abs=0.005)


def test_money_is_conserved_through_application(night):
    """Every received yuan is applied to an invoice, held as client credit, or unidentified."""
    paid, applied, credit, unidentified = q(
        night,
        "select sum(amount), sum(applied_amount), sum(credit_amount), sum(unidentified_amount) "
        "from core.fct_payments",
    )[0]
    assert paid == applied + credit + unidentified
    apps = q(night, "select sum(applied_amount) from core.fct_payment_applications")[0][0]
    assert apps == applied


def test_green_night_is_published_and_current(night):
    root = night["root"] / "published"
    current = root / "current"
    assert current.is_symlink()
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of_date"] == AS_OF.isoformat()
    assert manifest["run_id"] == night["result"].run_id
    with duckdb.connect(str(current / "snapshot.duckdb"), read_only=True) as snap:
        tables = {
            r[0]
            for r in snap.execute("select schema_name || '.' || table_name from duckdb_tables()").fetchall()
        }
        billed = snap.execute("select sum(amount) from core.fct_invoices where not is_void").fetchall()[0][0]
    assert "raw.load_rejects" in tables and any(t.startswith("marts.") for t in tables)
    # the snapshot carries the same numbers as the warehouse it was taken from
    assert billed == q(night, "select sum(amount) from core.fct_invoices where not is_void")[0][0]
    assert (current / "pages" / "index.html").exists()


def fingerprints(night) -> dict[str, str]:
    """Order-independent content hash of every mart and core table."""
    tables = q(
        night,
        "select schema_name || '.' || table_name from duckdb_tables() where schema_name in ('marts', 'core')",
    )
    out = {}
    for (table,) in tables:
        out[table] = q(night, f"select md5(coalesce(string_agg(h, ',' order by h), '')) from "
                              f"(select md5(cast(t as varchar)) as h from {table} t)")[0][0]  # fmt: skip
    return out


def test_a_night_killed_during_dbt_then_rerun_gives_identical_marts(night, tmp_path):
    """The same night again, after a first attempt at it was killed with SIGKILL while dbt built: the
    nightly CLI's dbt child dies with it (no orphan holding the warehouse), nothing half-built is
    published, and the rerun at once (no stale-lock failure) publishes, reports the dead night to ops,
    takes the incremental path for every incremental model and gives identical marts. (One real night
    fewer than a killed night on a firm of its own followed by a rerun of this one.)"""
    before = fingerprints(night)
    assert any(t.startswith("marts.") for t in before)
    published = night["root"] / "published"
    current_before = (published / "current").resolve()
    (tmp_path / "dagster.yaml").write_text("")
    with night["env"]():
        env = {**os.environ, "PYTHONPATH": str(REPO), "DAGSTER_HOME": str(tmp_path)}
    env["OPSCENTER_SETTLE_SECONDS"] = "0"  # the files were written before the first night
    killed = _nightly(env)
    dbt = []

    def dbt_building() -> bool:
        dbt[:] = [c for c in _children(killed.pid) if " build " in c[2] and c[1] not in "ZX"]
        return bool(dbt)

    _wait(dbt_building, "dbt build to start", killed)
    time.sleep(2)  # let dbt open the warehouse and write
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    _wait(lambda: not _alive(dbt[0][0]), "the dbt child to die with the night")
    duckdb.connect(str(night["warehouse"])).close()  # nothing holds the warehouse: it opens for writing
    assert (published / "current").resolve() == current_before  # nothing half-built was published
    assert len([p for p in published.iterdir() if p.name.startswith("2026")]) == 1

    again = night["rerun"]()
    assert again.success
    # same code as the recorded state: every incremental model takes the incremental path
    assert {how for how, _ in builds(again).values()} == {"incremental"}
    assert set(builds(again)) == incremental_models(night)
    assert fingerprints(night) == before
    # the rerun is published as its own version and becomes current; the first one is kept
    versions = sorted(p.name for p in published.iterdir() if p.name.startswith("2026"))
    assert len(versions) == 2
    assert (published / "current").resolve().name.endswith(again.run_id)
    alerts = (night["root"] / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    titles = [json.loads(x)["title"] for x in alerts]
    assert titles.count("【运营中心·错误】上一夜任务异常中止") == 1
    assert not any("夜间运行失败" in t for t in titles)


def test_broken_night_publishes_nothing_keeps_current_and_alerts_ops(night, webhook, monkeypatch):  # noqa: F811
    """A drop missing a required column fails the night: no new version, `current` untouched, and
    the ops alert (the run-failure sensor's own function) reaches a real webhook on 127.0.0.1."""
    from orchestration.definitions import build_definitions
    from orchestration.sensors import notify_run_failure

    port, received = webhook
    monkeypatch.setenv("OPSCENTER_ALERT_URLS", f"json://127.0.0.1:{port}/ops")

    published = night["root"] / "published"
    current_before = (published / "current").resolve()
    versions_before = sorted(p.name for p in published.iterdir() if p.name.startswith("2026"))
    broken = night["root"] / "raw_broken"
    shutil.copytree(night["raw"], broken)
    (broken / "payments" / "zz_manual.csv").write_text(
        "payment_id,client_id,paid_date,channel,updated_at\nPX1,C1,2026-11-20,cash,2026-11-20 10:00\n",
        encoding="utf-8",
    )
    defs = build_definitions(
        {
            "warehouse": WarehouseResource(path=str(night["warehouse"])),
            "landing_zone": LandingZoneResource(path=str(broken), settle_seconds=0),
        }
    )
    instance = dg.DagsterInstance.ephemeral()
    with night["env"]():
        result = defs.resolve_job_def("nightly").execute_in_process(
            instance=instance, tags={AS_OF_TAG: AS_OF.isoformat()}, raise_on_error=False
        )
        assert not result.success
        notify_run_failure(instance, instance.get_run_by_id(result.run_id))

    assert (published / "current").resolve() == current_before
    assert sorted(p.name for p in published.iterdir() if p.name.startswith("2026")) == versions_before
    assert len(received) == 1
    message = received[0][1]["message"]
    assert "raw__payments" in message and "缺少必填列" in message
    assert "本次发布已暂停，报表保持上一版本" in message
    # the previous good payments stay in the warehouse
    assert q(night, "select count(*) from raw.payments")[0][0] == night["summary"]["unique_keys"]["payments"]
