"""Incremental nights equal a full rebuild: the payment application rule per cutoff is incremental
(models/intermediate/payments), so is the task chain per task (core/fct_tasks and the contracted
marts/progress/mart_progress_detail, whose fingerprints are kept beside it in
intermediate.mart_progress_detail__fingerprints), all by input fingerprint
(macros/fingerprint_incremental.sql); the task aggregates mart_progress_summary, mart_progress_rollup,
mart_workload_by_service_type and mart_workload_staff_period are incremental by period
(macros/period_fingerprints.sql), so are int_tax_filing_status and mart_tax_filing_status (by service
period, int_tax_filing_period_fingerprints), so is mart_progress_board (by client × month,
int_progress_board_fingerprints); every other model is rebuilt nightly.

Real dbt runs on a hand-made firm over three nights, with late-arriving corrections:

  night 1, as of 2024-06-28: clients C1 甲公司, C2 乙公司, C3 丙公司; invoices I1..I6; payments P1..P5
           (P4 from payer 丁公司, which matches no client: unidentified).
  night 2, as of 2024-06-29: a new payment P6 (06-29) on I4; a late payment P7 back-dated to 05-20;
           I2 re-sent with a newer updated_at and a corrected amount (1200 -> 1100); I3 marked paid.
  night 3, as of 2024-07-01 (06-30 becomes a month-end cutoff, 2023-05-31 leaves the window): I5 voided
           with a back-dated update (06-10); I4 written off (07-01); P2 re-sent (600 -> 650); new client
           C4 丁公司 (P4 now identified by payer name) and its invoice I7 issued 06-01, arriving late.
  night 3 again: no change.

Tasks (staff S1 张会计 一部, S2 李会计 二部), each a case the task fingerprint must catch:
  night 1: T1..T8, T11, T13, T15 done; T9 todo and overdue; T10 in progress; T7 depends on T8, T13
           on T14 and T6 (C3's) on T21 (C2's). T14 and T15 are exported done with completions dated
           06-30, after nights 1 and 2: they are in progress until night 3 without any raw change (T13's
           upstream state moves with them).
  night 2: S2 moves to team 一部 (T2, T5, T8, T10); C3 renamed 丙有限公司 (T3, T6, T10, T15); T6 (done)
           cancelled; T8 re-sent with a later completion (T7's upstream_completed_date moves); new T12.
  night 3: T1 re-sent with a later completion (now late); T4 reopened; T5 deleted from the export;
           T21 re-sent (T6's fingerprint moves, though nothing of C3 changed);
           T17 (April, settled) re-sent with a later completion: a late correction of an old period,
           while T16 (March) is never touched (its aggregate rows are kept); the date crosses June's end.
Tax filings (stage tax_filing): T20 (March, filed on time, never touched), T21 (April, filed; re-sent on
night 3 filed late), T22 (May, C3's, not filed: overdue), T23 (June, in progress, deadline ahead),
T24 (May, C2's, new on night 2, cancelled on night 3).
Contract K1 (C1's bookkeeping contract, 2024-01..12, signed) gives the progress board C1's months
without tasks; on night 3 it is re-sent ending 2024-03-31: C1's April row (no task) leaves the board,
its May and June rows lose their contract.

After nights 2 and 3 every table of the intermediate, core and marts schemas is hashed against a full
rebuild of a copy of the same warehouse; the rerun must change nothing. The full rebuild runs
`dbt run --full-refresh --select config.materialized:incremental+`: every incremental model from
scratch and everything that reads them, whatever models are incremental now or later; the other
models are plain tables and views, which the night itself just rebuilt from scratch over the same raw
rows (so they are already what a full rebuild gives; the rerun checks that a rebuild is deterministic).
mart_alert_history and mart_alerts are left out of the incremental-vs-full comparison only: they keep
alert episodes across nights by design, which a full rebuild forgets (they are compared on the rerun).

The same nights check the data tests scoped to the keys built since they last passed
(dbt_project/macros/untested_keys.sql; the per-cutoff unique tests and fct_tasks' / the detail mart's
unique task_id; the tax filing pair's unique filing_key by period; the board's unique board_key, the
progress summary's / roll-up's unique keys by period and the three singular reconciliations of the
board and the summary with the detail; stg_tasks' unique task_id, whose keys the loader keeps): night 1
runs those tests (the full path: every row read, then empty key tables), nights 2 and 3 run no test, so
their key tables hold what both nights built (the pre-hooks add); the full rebuilds and the detail's
rebuild without fingerprints drop them. One `dbt test` of them, on a copy with duplicates in a built
cutoff, a kept cutoff, a kept task, tax periods, board keys, summary periods and raw tasks, shows what
they read; a second one of the reconciliations, with a detail key table, what they read of the detail.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from decimal import Decimal
from functools import partial

import duckdb
import pytest

from orchestration.assets.dbt import seed_partial_parse
from orchestration.benchmark import HISTORY_BY_DESIGN, table_hashes
from tests import dbt_helpers as h

SCHEMAS = ("intermediate", "core", "marts")
D = dt.date.fromisoformat


def ts(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day} 18:00")


_inv = partial(h.invoice_row, updated_at=ts("2024-06-01"))
_pay = partial(h.payment_row, updated_at=ts("2024-06-01"))


def upsert(conn, entity: str, key: str, rows: list[dict]) -> None:
    """What the loader leaves after a re-sent row wins the dedup: one row per key, the newest."""
    for row in rows:
        conn.execute(f"delete from raw.{entity} where {key} = ?", [row[key]])
    h.insert_rows(conn, entity, rows)


def _task(tid, client, who, due, status, *, created="2024-05-01 09:00", updated=None, **fields) -> dict:
    """A bookkeeping task of service month `due`'s month; updated_at defaults to its last event."""
    events = [fields.get(k) for k in ("completed_at", "started_at")] + [created]
    updated = updated or max(e for e in events if e)
    return h.task_row(tid, client, "bookkeeping", due, status, assignee_id=who, period=due[:7],
                      created_at=created, updated_at=updated, **fields)  # fmt: skip


def _tax(tid, client, who, period, status, *, created, **fields) -> dict:
    """A tax_filing task of service month `period` (its returns are due in the next month)."""
    year, month = map(int, period.split("-"))
    due = dt.date(year + month // 12, month % 12 + 1, 15).isoformat()
    events = [fields.get(k) for k in ("completed_at", "started_at")] + [created]
    updated = fields.pop("updated", None) or max(e for e in events if e)
    return h.task_row(tid, client, "tax_filing", due, status, assignee_id=who, period=period,
                      created_at=created, updated_at=updated, **fields)  # fmt: skip


TASKS_1 = [
    _task("T1", "C1", "S1", "2024-05-15", "done", started_at="2024-05-02 09:00",
          completed_at="2024-05-10 17:00"),
    _task("T2", "C2", "S2", "2024-05-15", "done", completed_at="2024-05-05 17:00"),
    _task("T3", "C3", "S1", "2024-05-15", "done", completed_at="2024-05-08 17:00"),
    _task("T4", "C1", "S1", "2024-06-15", "done", started_at="2024-05-20 09:00",
          completed_at="2024-06-01 17:00"),
    _task("T5", "C2", "S2", "2024-05-15", "done", completed_at="2024-05-06 17:00"),
    # T6 (C3's) waits on C2's April filing T21: a task whose upstream is another client's
    _task("T6", "C3", "S1", "2024-05-15", "done", completed_at="2024-05-07 17:00", depends_on_task_id="T21"),
    _task("T7", "C1", "S1", "2024-05-31", "done", completed_at="2024-05-25 17:00", depends_on_task_id="T8"),
    _task("T8", "C1", "S2", "2024-05-20", "done", completed_at="2024-05-20 12:00"),
    _task("T9", "C2", "S1", "2024-06-25", "todo", created="2024-06-01 09:00"),
    _task("T10", "C3", "S2", "2024-07-05", "in_progress", started_at="2024-06-20 09:00"),
    _task("T11", "C1", "S1", "2024-06-30", "done", completed_at="2024-06-28 10:00"),
    _task("T13", "C2", "S1", "2024-06-15", "done", completed_at="2024-06-10 17:00", depends_on_task_id="T14"),
    _task("T14", "C2", "S2", "2024-06-20", "done", started_at="2024-06-05 09:00",
          completed_at="2024-06-30 12:00"),
    _task("T15", "C3", "S1", "2024-06-29", "done", completed_at="2024-06-30 09:00"),
    # two settled months for the period-incremental aggregates: March is never touched again (its rows
    # are kept), April's T17 gets a late correction on night 3 (its rows are rebuilt)
    _task("T16", "C1", "S1", "2024-03-15", "done", created="2024-03-01 09:00",
          completed_at="2024-03-10 17:00"),
    _task("T17", "C2", "S2", "2024-04-15", "done", created="2024-04-01 09:00",
          completed_at="2024-04-12 17:00"),
    # tax filings (int_tax_filing_status / mart_tax_filing_status, incremental by service period):
    # March's is filed on time and never touched (kept), April's is corrected on night 3 (filed late),
    # May's is not filed (overdue; its client C3 is renamed on night 2), June's is in progress with
    # its deadline ahead (working days left move nightly)
    _tax("T20", "C1", "S1", "2024-03", "done", created="2024-04-01 09:00", completed_at="2024-04-10 17:00"),
    _tax("T21", "C2", "S1", "2024-04", "done", created="2024-05-01 09:00", completed_at="2024-05-10 17:00"),
    _tax("T22", "C3", "S1", "2024-05", "todo", created="2024-06-01 09:00"),
    _tax("T23", "C1", "S1", "2024-06", "in_progress", created="2024-06-20 09:00",
         started_at="2024-06-25 09:00"),
]  # fmt: skip


def night_1(conn) -> None:
    h.insert_rows(conn, "staff", [
        h.accountant_row(updated_at=ts("2024-01-01")),
        h.accountant_row(staff_id="S2", staff_name="李会计", team="二部", updated_at=ts("2024-01-01")),
    ])  # fmt: skip
    h.insert_rows(conn, "tasks", TASKS_1)
    h.insert_rows(conn, "clients", [
        h.client_row("C1", "甲公司", updated_at=ts("2024-01-01")),
        h.client_row("C2", "乙公司", updated_at=ts("2024-01-01")),
        h.client_row("C3", "丙公司", updated_at=ts("2024-01-01")),
    ])  # fmt: skip
    h.insert_rows(conn, "contracts", [
        h.contract_row("K1", "C1", "500.00", "2024-01-01", "2024-12-31", signed_date=D("2023-12-20"),
                       updated_at=ts("2024-01-01")),
    ])  # fmt: skip
    h.insert_rows(conn, "invoices", [
        _inv("I1", "C1", "2024-01-05", "2024-02-04", "1000.00"),
        _inv("I2", "C1", "2024-03-05", "2024-04-04", "1200.00"),
        _inv("I3", "C2", "2024-02-10", "2024-03-11", "800.00"),
        _inv("I4", "C2", "2024-04-10", "2024-05-10", "900.00"),
        _inv("I5", "C3", "2024-05-15", "2024-06-14", "500.00"),
        _inv("I6", "C1", "2024-06-05", "2024-07-05", "700.00"),
    ])  # fmt: skip
    h.insert_rows(conn, "payments", [
        _pay("P1", "2024-01-20", "1000.00", client_id="C1", invoice_id="I1"),
        _pay("P2", "2024-03-20", "600.00", invoice_id="I2"),
        _pay("P3", "2024-04-01", "800.00", client_id="C2"),
        _pay("P4", "2024-05-25", "300.00", payer_name="丁公司"),
        _pay("P5", "2024-06-20", "400.00", client_id="C1"),
    ])  # fmt: skip


def night_2(conn) -> None:
    t = ts("2024-06-29")
    h.insert_rows(conn, "payments", [
        h.payment_row("P6", "2024-06-29", "500.00", client_id="C2", invoice_id="I4", updated_at=t),
        h.payment_row("P7", "2024-05-20", "200.00", client_id="C3", updated_at=t),  # arrives late
    ])  # fmt: skip
    upsert(conn, "invoices", "invoice_id", [
        h.invoice_row("I2", "C1", "2024-03-05", "2024-04-04", "1100.00", updated_at=t),
        h.invoice_row("I3", "C2", "2024-02-10", "2024-03-11", "800.00", status="paid", updated_at=t),
    ])  # fmt: skip
    upsert(conn, "staff", "staff_id", [
        h.accountant_row(staff_id="S2", staff_name="李会计", team="一部", updated_at=t),
    ])  # fmt: skip
    upsert(conn, "clients", "client_id", [h.client_row("C3", "丙有限公司", updated_at=t)])
    upsert(conn, "tasks", "task_id", [
        _task("T6", "C3", "S1", "2024-05-15", "cancelled", completed_at="2024-05-07 17:00", updated=t,
              depends_on_task_id="T21"),
        _task("T8", "C1", "S2", "2024-05-20", "done", completed_at="2024-05-22 12:00", updated=t),
        _task("T12", "C2", "S1", "2024-07-10", "todo", created="2024-06-29 09:00"),
        # a second client's May filing, cancelled on night 3 (its row leaves a rebuilt period)
        _tax("T24", "C2", "S1", "2024-05", "todo", created="2024-06-29 09:00"),
    ])  # fmt: skip


def night_3(conn) -> None:
    t = ts("2024-07-01")
    upsert(conn, "invoices", "invoice_id", [
        # voided with an update dated back to 06-10
        h.invoice_row("I5", "C3", "2024-05-15", "2024-06-14", "500.00", status="void",
                    updated_at=ts("2024-06-10")),
        h.invoice_row("I4", "C2", "2024-04-10", "2024-05-10", "900.00", status="written_off", updated_at=t),
    ])  # fmt: skip
    upsert(
        conn,
        "payments",
        "payment_id",
        [h.payment_row("P2", "2024-03-20", "650.00", invoice_id="I2", updated_at=t)],
    )
    h.insert_rows(conn, "clients", [h.client_row("C4", "丁公司", updated_at=t)])
    # a late correction of a contract: K1 ends in March, not December
    upsert(conn, "contracts", "contract_id", [
        h.contract_row("K1", "C1", "500.00", "2024-01-01", "2024-03-31", signed_date=D("2023-12-20"),
                       updated_at=t),
    ])  # fmt: skip
    late_invoice = h.invoice_row("I7", "C4", "2024-06-01", "2024-07-01", "300.00", updated_at=t)
    h.insert_rows(conn, "invoices", [late_invoice])
    upsert(conn, "tasks", "task_id", [
        _task("T1", "C1", "S1", "2024-05-15", "done", started_at="2024-05-02 09:00",
              completed_at="2024-05-20 17:00", updated=t),
        _task("T4", "C1", "S1", "2024-06-15", "in_progress", started_at="2024-05-20 09:00", updated=t),
        # a late correction of a settled old month: completed 04-20 (late), not 04-12
        _task("T17", "C2", "S2", "2024-04-15", "done", created="2024-04-01 09:00",
              completed_at="2024-04-20 17:00", updated=t),
        # April's returns filed 05-25, after the deadline (late), not 05-10
        _tax("T21", "C2", "S1", "2024-04", "done", created="2024-05-01 09:00",
             completed_at="2024-05-25 17:00", updated=t),
        _tax("T24", "C2", "S1", "2024-05", "cancelled", created="2024-06-29 09:00", updated=t),
    ])  # fmt: skip
    conn.execute("delete from raw.tasks where task_id = 'T5'")


def fingerprints(path) -> dict[dt.date, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return dict(conn.execute("select * from intermediate.int_cutoff_input_fingerprints").fetchall())


def collection_fingerprints(path) -> tuple[dict[dt.date, int], dict[dt.date, int]]:
    """The fingerprint each cutoff's monthly collections were built for (one per cutoff), and tonight's."""
    with duckdb.connect(str(path), read_only=True) as conn:
        built = conn.execute(
            "select distinct cutoff_date, input_fingerprint"
            " from intermediate.int_forecast_collections_monthly"
        ).fetchall()
        current = conn.execute("select * from intermediate.int_forecast_collections_fingerprints").fetchall()
    assert len({d for d, _ in built}) == len(built)
    return dict(built), dict(current)


# the models incremental by cutoff that record their built fingerprints beside them
# (intermediate.<model>__fingerprints): a money column each (corrupted by the tests) and their fingerprints
CUTOFF_MODELS = {
    "int_invoices_at_cutoffs": ("amount", "int_cutoff_input_fingerprints"),
    "int_payments_identified_at_cutoffs": ("amount", "int_cutoff_input_fingerprints"),
    "int_payment_applications_direct": ("applied_amount", "int_cutoff_input_fingerprints"),
    "int_payment_applications_client": ("applied_amount", "int_cutoff_input_fingerprints"),
    "int_payment_applications_at_cutoffs": ("applied_amount", "int_cutoff_input_fingerprints"),
    "int_forecast_components": ("amount", "int_forecast_input_fingerprints"),
    "int_forecast_collections_monthly": ("amount", "int_forecast_collections_fingerprints"),
}
LOST_CUTOFF_MODEL = "int_payments_identified_at_cutoffs"


def cutoff_model_fingerprints(conn) -> dict[str, dict[dt.date, int]]:
    """Each per-cutoff model's fingerprint model, {cutoff: fingerprint}."""
    models = {f for _, f in CUTOFF_MODELS.values()}
    return {f: dict(conn.execute(f"select * from intermediate.{f}").fetchall()) for f in models}


def task_fingerprints(path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return dict(
            conn.execute(
                "select task_id, input_fingerprint from intermediate.int_task_fingerprints"
            ).fetchall()
        )


def change_log(path) -> dict:
    """int_task_fingerprints' change log (macros/task_fingerprints.sql) and its consumers' records."""
    with duckdb.connect(str(path), read_only=True) as conn:
        base, first, last = conn.execute(
            "select base, first_generation, last_generation"
            " from fingerprint_log.int_task_fingerprints__changes_state"
        ).fetchone()
        keys = conn.execute(
            "select generation, list(changed_key order by changed_key)"
            " from fingerprint_log.int_task_fingerprints__changes group by generation"
        ).fetchall()
        synced = conn.execute(
            "select 'core', generation, base = ? from fingerprint_log.core__fct_tasks__synced union all"
            " select 'marts', generation, base = ? from fingerprint_log.marts__mart_progress_detail__synced",
            [base, base],
        ).fetchall()
    return {
        "generations": (first, last),
        "keys": dict(keys),
        "synced": {s: (g, same) for s, g, same in synced},
    }


PERIOD_FINGERPRINTS = ("int_task_period_fingerprints", "int_task_due_period_fingerprints",
                       "int_task_completion_period_fingerprints")  # fmt: skip


def period_fingerprints(path) -> dict[str, dict[str, int]]:
    """Each period fingerprint model's {period key: fingerprint}."""
    with duckdb.connect(str(path), read_only=True) as conn:
        return {
            model: dict(conn.execute(f"select {'period_key' if 'completion' in model else 'period'},"
                                     f" input_fingerprint from intermediate.{model}").fetchall())
            for model in PERIOD_FINGERPRINTS
        }  # fmt: skip


def tax_fingerprints(path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return dict(conn.execute("select * from intermediate.int_tax_filing_period_fingerprints").fetchall())


def board_fingerprints(path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return dict(conn.execute("select * from intermediate.int_progress_board_fingerprints").fetchall())


def board_rows(path) -> dict[str, tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return dict(conn.execute(
            "select board_key, (contract_id, signing_state, current_stage, bookkeeping_status)"
            " from marts.mart_progress_board"
        ).fetchall())  # fmt: skip


def period_flags(path) -> dict:
    """The as-of flags of the period marts: they move when the as-of date crosses a month end."""
    with duckdb.connect(str(path), read_only=True) as conn:
        rollup = conn.execute(
            "select period, is_partial_period from marts.mart_progress_rollup where dimension_type = 'firm'"
        ).fetchall()
        service = conn.execute(
            "select period, is_current_month, is_partial_period from marts.mart_workload_by_service_type"
        ).fetchall()
    return {"rollup": dict(rollup), "by_service_type": {r[0]: r[1:] for r in service}}


IDENTITY_TABLES = {  # the tables whose dbt models declare their rows' fingerprints (meta publish_identity)
    "core.fct_tasks",
    "marts.mart_progress_detail",
    "marts.mart_progress_summary",
    "marts.mart_tax_filing_status",
}


def published_by_fingerprints(path, as_of: str, tmp, n: int, target) -> dict:
    """The night published (real `publish_run`, the snapshot patched from the previous night's with
    its private state), its tables split by month and patched whatever their size and share of
    changed rows (PARTS_MIN_ROWS 1, no PATCH_MAX_SHARE or MAX_GROWTH, MONTHS_MAX_SHARE 1), the months
    of the declared tables told unchanged by their rows' fingerprints (the manifest's
    `publish_identity`); and a fresh snapshot of the same warehouse. Returns whether they hold the
    same tables and Parquet rows, and per declared table its patch counts and its parts linked."""
    from orchestration.publish import publish_run, snapshot
    from tests.test_publish_patch import _contents, _parquet

    identities = snapshot.dbt_identities(target / "manifest.json")
    fresh = tmp / f"fresh_snapshot_{n}"
    # every table in months, and patched whatever share of its rows changed (a hand-made firm's night
    # changes a large share of them) and however much the small copied file grew
    limits = {
        "PARTS_MIN_ROWS": 1,
        "PATCH_MAX_SHARE": float("inf"),
        "MONTHS_MAX_SHARE": 1.0,
        "MAX_GROWTH": float("inf"),
    }
    old = {name: getattr(snapshot, name) for name in limits}
    for name, value in limits.items():
        setattr(snapshot, name, value)
    try:
        version = publish_run(
            path, tmp / "published", as_of_date=as_of, run_id=f"night{n}", code_version="test",
            checks=[], schemas=("core", "marts"), tables=(), identities=identities,
        )  # fmt: skip
        snapshot.build_snapshot(
            path, fresh / "snapshot.duckdb", fresh / "parquet", schemas=("core", "marts"), tables=()
        )
    finally:
        for name, value in old.items():
            setattr(snapshot, name, value)
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    tables = {t["name"]: t for t in manifest["tables"]}
    return {
        "identities": set(identities),
        "equal": _contents(version / "snapshot.duckdb") == _contents(fresh / "snapshot.duckdb")
        and _parquet(version / "parquet") == _parquet(fresh / "parquet"),
        "tables": {
            name: (tables[name].get("patched"), sum(p["reused"] for p in tables[name]["parts"]))
            for name in IDENTITY_TABLES
        },
    }


def full_rebuild(path, as_of: str, tmp) -> dict:
    """Hashes of a from-scratch rebuild of every model over a copy of the same warehouse."""
    copy = tmp / f"full_{as_of}" / "warehouse.duckdb"  # the name every dbt test's parsed manifest is for
    copy.parent.mkdir()
    shutil.copy(path, copy)
    selection = ["--select", "config.materialized:incremental+"]  # see the module docstring
    h.run_dbt(["run", "--full-refresh", *selection], copy, as_of, tmp / f"target_full_{as_of}")
    return table_hashes(copy, SCHEMAS)


def without_history(hashes: dict) -> dict:
    return {k: v for k, v in hashes.items() if k not in HISTORY_BY_DESIGN}


# the models whose unique tests opt in to incremental_scope_key, and their key tables
SCOPE_KEY_TABLES = {
    "int_invoices_at_cutoffs": "test_scope.intermediate__int_invoices_at_cutoffs",
    "int_payments_identified_at_cutoffs": "test_scope.intermediate__int_payments_identified_at_cutoffs",
    "int_payment_applications_direct": "test_scope.intermediate__int_payment_applications_direct",
    "int_payment_applications_at_cutoffs": "test_scope.intermediate__int_payment_applications_at_cutoffs",
    "fct_tasks": "test_scope.core__fct_tasks",
    "mart_progress_detail": "test_scope.marts__mart_progress_detail",
    "int_tax_filing_status": "test_scope.intermediate__int_tax_filing_status",
    "mart_tax_filing_status": "test_scope.marts__mart_tax_filing_status",
    "mart_progress_board": "test_scope.marts__mart_progress_board",
    "mart_progress_summary": "test_scope.marts__mart_progress_summary",
    "mart_progress_rollup": "test_scope.marts__mart_progress_rollup",
}
# the singular tests that reconcile scoped models (config meta incremental_scope)
SCOPED_SINGULAR = ("progress_board_current_stage_consistent", "progress_summary_counts_equal_detail_rows",
                   "progress_summary_partitions_total")  # fmt: skip
# the scoped tests alone (no test a selected model would bring in; stg_tasks' unique task_id among them)
SCOPED_TESTS = ["--indirect-selection", "empty", "--select", *SCOPED_SINGULAR]
SCOPED_TESTS += [
    f"config.meta.incremental_scope_key:{key}" for key in ("cutoff_date", "task_id", "period", "board_key")
]
INVOICES_TEST = "unique_column_set_int_invoices_at_cutoffs_cutoff_date__invoice_id"


def scope_keys(path) -> dict[str, set | None]:
    """Each scoped model's untested keys (None: no key table, its tests read every row)."""
    with duckdb.connect(str(path), read_only=True) as conn:
        present = {
            r[0]
            for r in conn.execute(
                "select table_name from duckdb_tables() where schema_name = 'test_scope'"
            ).fetchall()
        }
        return {
            model: {r[0] for r in conn.execute(f"select * from {table}").fetchall()}
            if table.split(".")[1] in present
            else None
            for model, table in SCOPE_KEY_TABLES.items()
        }


def cutoffs_with_rows(path) -> dict[str, set[dt.date]]:
    """Each per-cutoff model's cutoffs that have rows (a cutoff without is computed every night)."""
    with duckdb.connect(str(path), read_only=True) as conn:
        return {
            model: {
                r[0]
                for r in conn.execute(f"select distinct cutoff_date from intermediate.{model}").fetchall()
            }
            for model in list(SCOPE_KEY_TABLES)[:4]
        }


def compiled_test(target, prefix: str) -> str:
    """The SQL a data test ran (dbt shortens long test file names)."""
    return next((target / "run").rglob(f"{prefix}*.sql")).read_text()


def scoped_test_results(target) -> dict[str, tuple[str, int]]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].split(".")[2]: (r["status"], r["failures"])
        for r in results
        if r["unique_id"].startswith("test.")
    }


BOARD = "marts.mart_progress_board"


def stg_task_keys(path) -> set[str] | None:
    """stg_tasks' unique-test key table (kept by the loader, which these nights bypass)."""
    with duckdb.connect(str(path), read_only=True) as conn:
        if not conn.execute(
            "select count(*) from duckdb_tables() where table_name = 'staging__stg_tasks'"
        ).fetchall()[0][0]:
            return None
        return {r[0] for r in conn.execute("select task_id from test_scope.staging__stg_tasks").fetchall()}


def scoped_tests_on_duplicates(path, tmp) -> dict:
    """The eight scoped tests on a copy of the warehouse after the detail's rebuild without fingerprints
    (its key table dropped), with a duplicate row in a cutoff built since the tests last passed
    (07-01), one in a kept cutoff (02-29), a kept task (T16) in fct_tasks and the detail, the settled tax
    period's rows (March) in both filing tables and a rebuilt one's (May) in the mart."""
    red = tmp / "red" / "warehouse.duckdb"
    red.parent.mkdir()
    shutil.copy(path, red)
    with duckdb.connect(str(red)) as conn:
        for day in ("2024-07-01", "2024-02-29"):
            conn.execute(
                "insert into intermediate.int_invoices_at_cutoffs select * from"
                f" intermediate.int_invoices_at_cutoffs where cutoff_date = '{day}' limit 1"
            )
        for table in ("core.fct_tasks", "marts.mart_progress_detail"):
            conn.execute(f"insert into {table} select * from {table} where task_id = 'T16'")
        for table, period in [
            ("intermediate.int_tax_filing_status", "2024-03"),
            ("marts.mart_tax_filing_status", "2024-03"),
            ("marts.mart_tax_filing_status", "2024-05"),
        ]:
            conn.execute(f"insert into {table} select * from {table} where period = '{period}'")
        # every board row was built since night 1's tests: as if only C3|2024-05 and C1|2024-06 had been;
        # duplicates of C3|2024-05 (built) and C2|2024-04 (kept), C1|2024-06 and kept C2|2024-05 with a
        # negative days late
        conn.execute(
            "delete from test_scope.marts__mart_progress_board"
            " where board_key not in ('C3|2024-05', 'C1|2024-06')"
        )
        for key in ("C3|2024-05", "C2|2024-04"):
            conn.execute(f"insert into {BOARD} select * from {BOARD} where board_key = '{key}'")
        conn.execute(f"update {BOARD} set days_late = -1 where board_key in ('C1|2024-06', 'C2|2024-05')")
        # a summary row duplicated in settled March (kept); a roll-up row there and in a period built
        # since, not T9's
        t9_period = conn.execute(
            "select period from marts.mart_progress_detail where task_id = 'T9'"
        ).fetchall()[0][0]
        built_period = "2024-05" if t9_period != "2024-05" else "2024-04"
        for table, key, period in [
            ("mart_progress_summary", "summary_key", "2024-03"),
            ("mart_progress_rollup", "rollup_key", "2024-03"),
            ("mart_progress_rollup", "rollup_key", built_period),
        ]:
            conn.execute(
                f"insert into marts.{table} select * from marts.{table} where {key} ="
                f" (select min({key}) from marts.{table} where period = '{period}')"
            )
        # stg_tasks (a view over raw.tasks): T4 as if a merge load had rewritten it, T16 untouched since
        conn.execute("insert into test_scope.staging__stg_tasks values ('T4')")
        conn.execute("insert into raw.tasks select * from raw.tasks where task_id in ('T4', 'T16')")
    before = scope_keys(red)
    before["stg_tasks"] = stg_task_keys(red)
    try:
        h.run_dbt(["test", *SCOPED_TESTS], red, "2024-07-01", tmp / "target_red")
    except h.DbtRunError:
        pass  # some tests fail: the results say which
    target = tmp / "target_red"
    after = scope_keys(red)
    after["stg_tasks"] = stg_task_keys(red)
    # then the reconciliations with the detail's key table: as if the detail's tests had passed since and
    # T9 been built (C2|2024-06, a kept board row), and the summary's tests (no period built since):
    # a stage state of T9 and one of T12 (C2|2024-07: kept, not built) disagree with the detail; one
    # summary row of T9's period and one of March count an in-progress task too many
    with duckdb.connect(str(red)) as conn:
        conn.execute(
            "create or replace table test_scope.marts__mart_progress_detail as select 'T9' as task_id"
        )
        conn.execute("delete from test_scope.marts__mart_progress_summary")
        for s in ("signing", "document_collection", "bookkeeping", "tax_filing", "fee_collection"):
            conn.execute(f"update {BOARD} set {s}_state = 'bogus' where {s}_task_id in ('T9', 'T12')")
        for period in (t9_period, "2024-03"):
            conn.execute(
                "update marts.mart_progress_summary set in_progress_count = in_progress_count + 1"
                " where summary_key = (select max(summary_key) from marts.mart_progress_summary"
                f" where period = '{period}')"
            )
    try:
        h.run_dbt(["test", "--select", *SCOPED_SINGULAR], red, "2024-07-01", tmp / "target_red2")
    except h.DbtRunError:
        pass
    return {
        "before": before,
        "after": after,
        "results": scoped_test_results(target),
        "invoices_sql": compiled_test(target, "unique_column_set_int_invoices_"),
        "detail_sql": compiled_test(target, "unique_mart_progress_detail_task_id"),
        "stg_sql": compiled_test(target, "unique_stg_tasks_task_id"),
        "results_detail_scoped": scoped_test_results(tmp / "target_red2"),
        "board_sql": compiled_test(tmp / "target_red2", "progress_board_current_stage_consistent"),
    }


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("incremental_nights")
    path = tmp / "warehouse.duckdb"
    conn = h.new_raw_warehouse(path)
    night_1(conn)
    conn.close()
    out = {}
    for n, (as_of, change) in enumerate(
        [("2024-06-28", None), ("2024-06-29", night_2), ("2024-07-01", night_3)], start=1
    ):
        if change is not None:
            with duckdb.connect(str(path)) as conn:
                change(conn)
        target = tmp / f"target_{n}"
        # night 1 loads the seeds in the same invocation (one dbt start and parse fewer) and runs the
        # eight scoped tests (their first run reads every row; passing, they leave empty key tables)
        first = ["build", *SCOPED_TESTS, "resource_type:seed", "resource_type:model"]
        h.run_dbt(first if n == 1 else ["run"], path, as_of, target)
        out[n] = {
            "as_of": as_of,
            "target": target,
            "hashes": table_hashes(path, SCHEMAS),
            "fingerprints": fingerprints(path),
            "collection_fingerprints": collection_fingerprints(path),
            "task_fingerprints": task_fingerprints(path),
            "change_log": change_log(path),
            "period_fingerprints": period_fingerprints(path),
            "period_flags": period_flags(path),
            "tax_fingerprints": tax_fingerprints(path),
            "board_fingerprints": board_fingerprints(path),
            "board": board_rows(path),
            "scope_keys": scope_keys(path),
            "cutoffs_with_rows": cutoffs_with_rows(path),
            "published": published_by_fingerprints(path, as_of, tmp, n, target),
            "full": full_rebuild(path, as_of, tmp) if n > 1 else None,
            "full_scope_keys": scope_keys(tmp / f"full_{as_of}" / "warehouse.duckdb") if n > 1 else None,
        }
    h.run_dbt(["run"], path, "2024-07-01", tmp / "target_rerun")
    out["rerun"] = table_hashes(path, SCHEMAS)
    out["rerun_scope_keys"] = scope_keys(path)
    # a warehouse whose detail mart lost its built fingerprints (or predates them) rebuilds every row;
    # so does a per-cutoff model without its record (every row corrupted: none may be kept)
    with duckdb.connect(str(path)) as conn:
        conn.execute("drop table intermediate.mart_progress_detail__fingerprints")
        conn.execute(f"drop table intermediate.{LOST_CUTOFF_MODEL}__fingerprints")
        conn.execute(f"update intermediate.{LOST_CUTOFF_MODEL} set amount = amount + 1000000")
        # and a failed run left its pending pairs: every task's rows marked stale, none to build
        conn.execute(
            "create table intermediate.mart_progress_detail__pending as select task_id,"
            " null::ubigint as input_fingerprint, 0::ubigint as built_fingerprint from core.fct_tasks"
        )
        conn.execute("update marts.mart_progress_detail set days_late = days_late + 100")
        # as if the constraint had been declared after the table was created
        conn.execute("alter table marts.mart_progress_detail alter column stage drop not null")
    lost = ["--select", "mart_progress_detail", LOST_CUTOFF_MODEL]
    h.run_dbt(["run", *lost], path, "2024-07-01", tmp / "target_lost")
    out["lost_fingerprints"] = table_hashes(path, SCHEMAS)
    out["lost_scope_keys"] = scope_keys(path)
    out["red"] = scoped_tests_on_duplicates(path, tmp)
    with duckdb.connect(str(path), read_only=True) as conn:
        out["not_null_columns"] = {
            r[0]
            for r in conn.execute(
                "select unnest(constraint_column_names) from duckdb_constraints()"
                " where table_name = 'mart_progress_detail' and constraint_type = 'NOT NULL'"
            ).fetchall()
        }
    # a period mart keeps the rows of settled, unchanged periods: on a copy, every summary row is
    # corrupted, then the next date is built: only March (settled, unchanged) keeps its corrupted row
    kept = tmp / "kept" / "warehouse.duckdb"
    kept.parent.mkdir()
    shutil.copy(path, kept)
    counts = "select period, sum(task_count) from marts.mart_progress_summary group by period"
    tax = "select filing_key, (client_name, filing_status, working_days_left) from {}"
    tax_tables = ("intermediate.int_tax_filing_status", "marts.mart_tax_filing_status")
    with duckdb.connect(str(kept)) as conn:
        out["summary_counts"] = dict(conn.execute(counts).fetchall())
        conn.execute("update marts.mart_progress_summary set task_count = task_count + 100")
        out["tax"] = {t: dict(conn.execute(tax.format(t)).fetchall()) for t in tax_tables}
        for table in (*tax_tables, "marts.mart_progress_board"):  # and every filing and board row
            conn.execute(f"update {table} set client_name = client_name || '*'")
        # and every row of the per-cutoff models
        for model, (column, _) in CUTOFF_MODELS.items():
            conn.execute(f"update intermediate.{model} set {column} = {column} + 1000000")
        out["cutoff_fingerprints"] = cutoff_model_fingerprints(conn)
    selection = ["--select", "+mart_progress_summary", "+mart_tax_filing_status", "+mart_progress_board"]
    selection += ["+int_forecast_components", "+int_forecast_collections_monthly"]
    h.run_dbt(["run", *selection], kept, "2024-07-02", tmp / "target_kept")
    with duckdb.connect(str(kept), read_only=True) as conn:
        out["cutoff_fingerprints_next"] = cutoff_model_fingerprints(conn)
        # {cutoff: (every row corrupted, any row corrupted)}
        out["corrupted_cutoffs_next"] = {
            model: {
                d: tuple(flags)
                for d, *flags in conn.execute(
                    f"select cutoff_date, bool_and({column} >= 500000), bool_or({column} >= 500000)"
                    f" from intermediate.{model} group by cutoff_date"
                ).fetchall()
            }
            for model, (column, _) in CUTOFF_MODELS.items()
        }
        out["cutoff_records_next"] = {
            model: dict(conn.execute(f"select * from intermediate.{model}__fingerprints").fetchall())
            for model in CUTOFF_MODELS
        }
        out["summary_counts_next"] = dict(conn.execute(counts).fetchall())
        out["tax_next"] = {t: dict(conn.execute(tax.format(t)).fetchall()) for t in tax_tables}
        board = "select board_key, client_name from marts.mart_progress_board"
        out["board_next"] = dict(conn.execute(board).fetchall())
    out["path"] = path
    return out


@pytest.mark.parametrize("night", [1, 2, 3])
def test_a_night_published_by_its_fingerprints_equals_a_fresh_snapshot(nights, night):
    """Each night's snapshot, patched from the previous night's with the months of the declared tables
    told unchanged by their rows' fingerprints (snapshot.Identity), holds what a fresh snapshot of the
    same warehouse holds, table and Parquet rows: the late corrections (a re-sent April task, a
    reopened task, a deleted one, a renamed client) reach it. On nights 2 and 3 the task tables were
    patched in the copy, some of their months' parts linked unread."""
    published = nights[night]["published"]
    assert published["identities"] == IDENTITY_TABLES
    assert published["equal"]
    if night > 1:
        tables = published["tables"]
        for name in ("core.fct_tasks", "marts.mart_progress_detail"):  # open tasks change every night
            patched, linked = tables[name]
            assert patched is not None and patched["inserted"] > 0 and linked > 0, (name, published["tables"])


@pytest.mark.parametrize("night", [2, 3])
def test_incremental_night_equals_full_rebuild(nights, night):
    inc, full = nights[night]["hashes"], nights[night]["full"]
    assert any(k.startswith("intermediate.int_payment_applications") for k in inc)
    task_chain = {"core.fct_tasks", "marts.mart_progress_detail"}
    task_chain.add("intermediate.mart_progress_detail__fingerprints")
    assert task_chain <= inc.keys()
    names = without_history(full).keys() | without_history(inc).keys()
    assert sorted(k for k in names if full.get(k) != inc.get(k)) == []


def test_incremental_runs_compute_only_changed_cutoffs(nights):
    """The runs after the first took the incremental branch, and the fingerprints single out the
    cutoffs whose inputs changed: night 2 changed 2024-03-31..05-31 (I2 issued 03-05 corrected, P7
    back-dated to 05-20) and not 02-29, although I3 (issued 02-10) was re-sent as paid: a status that
    voids or writes off nothing by a cutoff is not an input of that cutoff."""
    for n, branch in ((1, False), (2, True)):
        compiled = nights[n]["target"] / "compiled" / "opscenter" / "models" / "intermediate" / "payments"
        sql = (compiled / "int_payment_applications_client.sql").read_text()
        # the cutoffs whose fingerprint the model's record does not hold (not its ~1 M rows a cutoff)
        assert ('"int_payment_applications_client__fingerprints" as built' in sql) is branch, n
        assert "select distinct cutoff_date, input_fingerprint from" not in sql
    f1, f2, f3 = (nights[n]["fingerprints"] for n in (1, 2, 3))
    changed_2 = sorted(d for d in f2 if d in f1 and f1[d] != f2[d])
    assert changed_2 == [D("2024-03-31"), D("2024-04-30"), D("2024-05-31")]
    assert sorted(set(f2) - set(f1)) == [D("2024-06-29")]
    assert sorted(set(f1) - set(f2)) == [D("2024-06-28")]
    # night 3: P2 (03-20) re-sent and C4 now matches P4's payer (05-25): 03-31 onward change
    changed_3 = sorted(d for d in f3 if d in f2 and f2[d] != f3[d])
    assert changed_3 == [D("2024-03-31"), D("2024-04-30"), D("2024-05-31")]
    assert sorted(set(f3) - set(f2)) == [D("2024-06-30"), D("2024-07-01")]
    assert D("2023-05-31") in f2 and D("2023-05-31") not in f3


def test_monthly_collections_rebuild_only_changed_cutoffs(nights):
    """int_forecast_collections_monthly is incremental by cutoff (int_forecast_collections_fingerprints):
    its rows are those of tonight's fingerprints, and a night rebuilt the cutoffs the corrections
    reached (night 2: I2 corrected, P7 back-dated: 03-31..05-31, as the rule) and the new ones, and kept
    the others (02-29 and earlier). Equality with a full rebuild: test_incremental_night_equals_full_rebuild.
    """
    (c1, _), (c2, current_2), (c3, current_3) = (nights[n]["collection_fingerprints"] for n in (1, 2, 3))
    # the rows are tonight's (a cutoff before the first invoice has no rows, so no stored fingerprint)
    assert c2.items() <= current_2.items() and c3.items() <= current_3.items()
    assert D("2024-01-31") in c2 and D("2023-12-31") not in c2
    changed = sorted(d for d in c2 if d in c1 and c1[d] != c2[d])
    assert changed == [D("2024-03-31"), D("2024-04-30"), D("2024-05-31")]
    assert sorted(set(c2) - set(c1)) == [D("2024-06-29")]
    assert D("2024-02-29") in c1 and c1[D("2024-02-29")] == c2[D("2024-02-29")]


def test_cutoff_models_keep_unchanged_cutoffs(nights):
    """The per-cutoff models keep the rows of the cutoffs whose fingerprint their record holds: on
    07-02 (no raw change), on a copy with every row of theirs corrupted, the month ends whose
    fingerprint did not move keep the corruption (not recomputed), the new as-of date is computed and
    07-01 (no longer a cutoff) is deleted; each record then holds tonight's fingerprints. Without its
    record a model rebuilds every cutoff (test_detail_mart_rebuilds_only_changed_tasks: the lost night)."""
    before, after = nights["cutoff_fingerprints"], nights["cutoff_fingerprints_next"]
    for model, (_, source) in CUTOFF_MODELS.items():
        f0, f1 = before[source], after[source]
        corrupted = nights["corrupted_cutoffs_next"][model]
        assert all(every == anyone for every, anyone in corrupted.values()), model  # whole cutoffs
        kept = {d for d, every in corrupted.items() if every[0]}
        assert kept == {d for d in corrupted if f0.get(d) == f1[d]}, model
        assert kept and D("2024-06-30") in kept and D("2024-07-02") in set(corrupted) - kept, model
        assert D("2024-07-01") in f0 and D("2024-07-01") not in corrupted, model
        assert nights["cutoff_records_next"][model] == f1, model


def test_corrections_reach_the_numbers(nights):
    """The corrections are not no-ops: tonight's numbers show them (so equality above is not vacuous)."""
    with duckdb.connect(str(nights["path"]), read_only=True) as conn:
        payments = dict(
            conn.execute(
                "select payment_id, (amount, identification_method, resolved_client_id)"
                " from core.fct_payments"
            ).fetchall()
        )
        invoices = dict(
            conn.execute(
                "select invoice_id, (is_void, is_written_off, amount) from core.fct_invoices"
            ).fetchall()
        )
    assert payments["P4"] == (Decimal("300.00"), "payer_name", "C4")
    assert payments["P2"][0] == Decimal("650.00")
    assert payments["P7"][1:] == ("client", "C3")
    assert invoices["I5"][:2] == (True, False)
    assert invoices["I4"][:2] == (False, True)
    assert invoices["I2"][2] == Decimal("1100.00") and "I7" in invoices


def test_task_fingerprints_single_out_open_and_changed_tasks(nights):
    """Settled tasks keep their fingerprint (their rows are kept); open tasks, tasks whose state moves
    with the date, and every correction of night 2 and 3 change theirs (their rows are recomputed)."""
    compiled = nights[2]["target"] / "compiled" / "opscenter" / "models" / "core" / "fct_tasks.sql"
    assert '"fct_tasks__pending" as p' in compiled.read_text()  # the pre-hook's one comparison
    f1, f2, f3 = (nights[n]["task_fingerprints"] for n in (1, 2, 3))
    assert sorted(f2.keys() - f1.keys()) == ["T12", "T24"]
    changed_2 = {t for t in f1 if f1[t] != f2[t]}
    unchanged_2 = ["T1", "T4", "T11", "T16", "T20", "T21"]
    assert sorted(f1.keys() - changed_2, key=lambda t: int(t[1:])) == unchanged_2
    assert sorted(f2.keys() - f3.keys()) == ["T5"]
    changed_3 = {t for t in f3 if f2[t] != f3[t]}
    # T6 (C3's, settled) through its upstream T21 (C2's, re-sent): C3 has no other change on night 3
    expected = ["T1", "T4", "T6", "T9", "T10", "T12", "T13", "T14", "T15", "T17", "T21", "T22", "T23", "T24"]
    assert sorted(changed_3, key=lambda t: int(t[1:])) == expected


def test_task_fingerprints_are_incremental_by_client(nights):
    """int_task_fingerprints itself is incremental by client (macros/task_fingerprints.sql; its rows
    and its inputs record equal the full rebuild after nights 2 and 3:
    test_incremental_night_equals_full_rebuild). Night 1 built every row, nights 2 and 3 compared
    per-client inputs; each row records its client and whether its fingerprint holds the as-of date;
    the record holds every client's and staff member's inputs, the chain's and the date it is for.
    T6 (C3, settled) must be rebuilt on night 3 although C3 did not change: its upstream T21 (C2) did."""
    for n, branch in ((1, False), (2, True), (3, True)):
        sql = (nights[n]["target"] / "compiled" / "opscenter" / "models" / "intermediate" / "tasks"
               / "int_task_fingerprints.sql").read_text()  # fmt: skip
        assert ('"int_task_fingerprints__pending" as p' in sql) is branch, n
    with duckdb.connect(str(nights["path"]), read_only=True) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "select task_id, client_id, as_of_dependent from intermediate.int_task_fingerprints"
        ).fetchall()}  # fmt: skip
        record = conn.execute(
            "select kind, list(id order by id) from intermediate.int_task_fingerprints__inputs group by kind"
        ).fetchall()
    assert rows["T6"] == ("C3", False) and rows["T16"] == ("C1", False)
    assert rows["T15"] == ("C3", False) and rows["T14"] == ("C2", False)  # settled on 06-30
    assert rows["T10"] == ("C3", True) and rows["T22"] == ("C3", True) and rows["T12"] == ("C2", True)
    assert dict(record) == {"client": ["C1", "C2", "C3", "C4"], "staff": ["S1", "S2"], "chain": [""],
                            "as_of": ["2024-07-01"]}  # fmt: skip


def test_consumers_compare_only_the_logged_tasks(nights):
    """fct_tasks and the detail mart compare only the tasks int_task_fingerprints logged since their
    last build (macros/fingerprint_diff.sql): the log must hold every task whose fingerprint changed or
    left, each consumer records the generation it is in step with (the equal-to-full test above fails
    when the log misses a task)."""
    logs = [nights[n]["change_log"] for n in (1, 2, 3)]
    assert [log["generations"] for log in logs] == [(0, 0), (0, 1), (0, 2)]
    assert logs[0]["keys"] == {} and logs[1]["keys"].keys() == {1} and logs[2]["keys"].keys() == {1, 2}
    assert logs[0]["synced"] == {"core": (0, True), "marts": (0, True)}
    for n, log in ((2, logs[1]), (3, logs[2])):
        before, after = nights[n - 1]["task_fingerprints"], nights[n]["task_fingerprints"]
        moved = {t for t in before.keys() | after.keys() if before.get(t) != after.get(t)}
        assert moved <= set(log["keys"][n - 1]), n
        assert log["synced"] == {"core": (n - 1, True), "marts": (n - 1, True)}, n
    assert "T5" in logs[2]["keys"][2] and "T5" not in nights[3]["task_fingerprints"]  # deleted: gone
    # the hand-made firm changes every client on night 2; night 3 all tasks but T3 (C3 is unchanged, T6
    # is rebuilt through its upstream T21, T5 left)
    assert logs[1]["keys"][1] == sorted(nights[2]["task_fingerprints"])
    assert logs[2]["keys"][2] == sorted(nights[2]["task_fingerprints"].keys() - {"T3"})


def test_task_corrections_reach_the_numbers(nights):
    """Night 3's task rows show every correction (so equality with the full rebuild is not vacuous)."""
    with duckdb.connect(str(nights["path"]), read_only=True) as conn:
        tasks = {
            r[0]: r[1:]
            for r in conn.execute(
                "select task_id, status_as_of, completed_date, days_late, assignee_team,"
                " upstream_status_as_of, upstream_completed_date from core.fct_tasks"
            ).fetchall()
        }
        detail = dict(conn.execute("select task_id, client_name from marts.mart_progress_detail").fetchall())
    assert "T5" not in tasks and tasks["T6"][0] == "cancelled" and "T6" not in detail
    assert tasks["T1"][:3] == ("done", D("2024-05-20"), 5)
    assert tasks["T2"][3] == "一部"
    assert detail["T3"] == "丙有限公司"
    assert tasks["T4"][:3] == ("in_progress", None, 16)
    assert tasks["T7"][4:] == ("done", D("2024-05-22"))
    assert tasks["T13"][4:] == ("done", D("2024-06-30"))
    assert tasks["T15"][:3] == ("done", D("2024-06-30"), 1)
    assert tasks["T9"][2] == 6 and tasks["T12"][0] == "todo"


def test_rerun_of_the_same_night_changes_nothing(nights):
    assert nights["rerun"] == nights[3]["hashes"]


def test_detail_mart_rebuilds_only_changed_tasks(nights):
    """The contracted detail mart took the incremental branch after night 1 (its rows for tasks whose
    fingerprint is recorded beside it are kept), and without its recorded fingerprints (dropped, or a
    warehouse built before they existed) it rebuilds every row: a corrupted kept row is replaced; so
    does a per-cutoff model without its record (LOST_CUTOFF_MODEL, every row corrupted before).
    A not_null constraint the table lacks is added by its post-hook."""
    compiled = nights[2]["target"] / "compiled" / "opscenter" / "models" / "marts" / "progress"
    sql = (compiled / "mart_progress_detail.sql").read_text()
    side = '"mart_progress_detail__pending" as p'
    assert side in sql and "and task_id in (select b.task_id" in sql
    first = (nights[1]["target"] / "compiled" / "opscenter" / "models" / "marts" / "progress"
             / "mart_progress_detail.sql").read_text()  # fmt: skip
    assert side not in first and "task_id in (select b.task_id" not in first
    assert nights["lost_fingerprints"] == nights[3]["hashes"]
    # every not_null constraint of the contract is on the table, one dropped before the run re-added
    assert {"stage", "task_id", "summary_key", "days_late"} <= nights["not_null_columns"]


def test_period_fingerprints_single_out_changed_periods(nights):
    """Period fingerprints move exactly when a period's rows can: settled March never changes; April
    changes on night 2 (S2, T17's assignee, moved team) and night 3 (T17's late correction); periods
    with open tasks change every night; the day grain's window moves; July's due month joins
    mart_workload_by_service_type when the as-of date enters July."""
    fp = {n: nights[n]["period_fingerprints"] for n in (1, 2, 3)}
    for n in (2, 3):
        progress = fp[n]["int_task_period_fingerprints"]
        before = fp[n - 1]["int_task_period_fingerprints"]
        assert sorted(p for p in progress if before.get(p) == progress[p]) == ["2024-03"]
    due_2, due_3 = (fp[n]["int_task_due_period_fingerprints"] for n in (2, 3))
    assert sorted(due_2) == ["2024-03", "2024-04", "2024-05", "2024-06"]
    assert sorted(due_3) == ["2024-03", "2024-04", "2024-05", "2024-06", "2024-07"]
    assert sorted(p for p in due_2 if due_2[p] == due_3.get(p)) == ["2024-03"]
    done_2, done_3 = (fp[n]["int_task_completion_period_fingerprints"] for n in (2, 3))
    assert done_2["month|2024-03-01"] == done_3["month|2024-03-01"]
    assert done_2["week|2024-03-04"] == done_3["week|2024-03-04"]
    assert done_2["day|2024-05-01"] == done_3["day|2024-05-01"]  # no completion, staff unchanged
    assert done_2["month|2024-04-01"] != done_3["month|2024-04-01"]  # T17 corrected
    assert done_2["day|2024-04-12"] != done_3["day|2024-04-12"] and "day|2024-04-20" in done_3
    # the day grain covers the 90 days up to the as-of date: 04-01 leaves it on 07-01
    assert "day|2024-04-01" in done_2 and "day|2024-04-01" not in done_3
    assert "day|2024-04-02" not in done_3 and "day|2024-04-03" in done_3
    # June is partial as of 06-29 and whole as of 07-01 (month end crossed)
    assert done_2["month|2024-06-01"] != done_3["month|2024-06-01"]


def test_period_marts_cross_the_month_end(nights):
    """The as-of flags of kept and rebuilt periods follow the date across the month end (and equal the
    full rebuild: test_incremental_night_equals_full_rebuild)."""
    f2, f3 = nights[2]["period_flags"], nights[3]["period_flags"]
    assert f2["rollup"]["2024-06"] is True and f3["rollup"]["2024-06"] is False
    assert f2["rollup"]["2024-05"] is False and f3["rollup"]["2024-07"] is True
    assert f2["by_service_type"]["2024-06"] == (True, True)
    assert f3["by_service_type"]["2024-06"] == (False, False)
    assert f3["by_service_type"]["2024-07"] == (True, True)
    assert "2024-07" not in f2["by_service_type"]


def test_period_marts_keep_settled_periods(nights):
    """On the next date (07-02, no raw change) mart_progress_summary keeps the rows of the settled,
    unchanged periods (March and April: every row was corrupted, theirs stay corrupted, so they were not
    recomputed) and rebuilds May (T22, an open tax filing), June and July (open tasks), which are back to
    their numbers. The compiled marts read only the periods to rebuild."""
    true, next_day = nights["summary_counts"], nights["summary_counts_next"]
    assert true["2024-03"] == 2 and true["2024-04"] == 2 and true["2024-05"] == 6
    assert sorted(true) == sorted(next_day) == ["2024-03", "2024-04", "2024-05", "2024-06", "2024-07"]
    assert sorted(p for p in true if next_day[p] > true[p]) == ["2024-03", "2024-04"]
    assert next_day["2024-06"] == true["2024-06"] and next_day["2024-07"] == true["2024-07"]
    compiled = nights[3]["target"] / "compiled" / "opscenter" / "models" / "marts"
    compiled_1 = nights[1]["target"] / "compiled" / "opscenter" / "models" / "marts"
    marts = ["progress/mart_progress_summary", "progress/mart_progress_rollup",
             "workload/mart_workload_by_service_type", "workload/mart_workload_staff_period"]  # fmt: skip
    for mart in marts:
        assert '__fingerprints" as built' in (compiled / f"{mart}.sql").read_text(), mart
        assert '__fingerprints" as built' not in (compiled_1 / f"{mart}.sql").read_text(), mart


def _dbt_night_invocation(args: list[str], warehouse, target, as_of: str | None) -> str:
    """dbt as the night's dbt step starts it: partial parsing on, the as-of date in DBT_AS_OF_DATE
    (orchestration/assets/dbt.py); returns dbt's debug log."""
    env = {
        **os.environ,
        "OPSCENTER_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PARTIAL_PARSE": "true",
    }
    env.pop("DBT_AS_OF_DATE", None)
    if as_of is not None:
        env["DBT_AS_OF_DATE"] = as_of
    project = str(h.DBT_PROJECT_DIR)
    cmd = [str(h.DBT_EXECUTABLE), "--no-use-colors", *args, "--project-dir", project]
    cmd += ["--profiles-dir", project, "--target-path", str(target), "--log-path", str(target / "logs")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=target.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (target / "logs" / "dbt.log").read_text()


def test_nights_reuse_the_project_parse(tmp_path):
    """The as-of date changes every night; as a --vars value it would discard dbt's partial-parse state
    and every night would re-parse the whole project. Through DBT_AS_OF_DATE it does not: a night's
    fresh target folder seeded from the project's parse skips parsing, and the date still reaches
    the compiled SQL (a different one each night)."""
    warehouse = tmp_path / "empty.duckdb"
    project_target = tmp_path / "project_target"
    _dbt_night_invocation(["parse"], warehouse, project_target, None)
    for as_of in ("2024-06-28", "2024-06-29"):
        target = tmp_path / f"night_{as_of}"
        target.mkdir()
        seed_partial_parse(target, [project_target])
        log = _dbt_night_invocation(["compile", "--select", "int_cutoff_dates"], warehouse, target, as_of)
        assert "Unable to do partial parsing" not in log
        assert "Partial parsing enabled, no changes found, skipping parsing" in log
        compiled = target / "compiled" / "opscenter" / "models" / "intermediate" / "payments"
        assert f"cast('{as_of}' as date)" in (compiled / "int_cutoff_dates.sql").read_text()


def test_tax_filing_status_rebuilds_only_changed_periods(nights):
    """int_tax_filing_status and mart_tax_filing_status are incremental by service period (their rows
    equal the full rebuild after nights 2 and 3: test_incremental_night_equals_full_rebuild). The period
    fingerprints move exactly when a period's rows can: March (filed, unchanged) never; April on night 3
    (T21 re-sent, now filed late); May (T22 not filed, C3 renamed, T24 added then cancelled) and June
    (in progress, deadline ahead) every night. On 07-02, on a copy whose filing rows were all corrupted,
    March and April keep the corruption (not recomputed), May and June are back to their values."""
    f1, f2, f3 = (nights[n]["tax_fingerprints"] for n in (1, 2, 3))
    assert sorted(f1) == sorted(f3) == ["2024-03", "2024-04", "2024-05", "2024-06"]
    assert sorted(p for p in f2 if f1[p] == f2[p]) == ["2024-03", "2024-04"]
    assert sorted(p for p in f3 if f2[p] == f3[p]) == ["2024-03"]
    for table in ("intermediate.int_tax_filing_status", "marts.mart_tax_filing_status"):
        true, next_day = nights["tax"][table], nights["tax_next"][table]
        assert true == {
            "C1|2024-03": ("甲公司", "filed_on_time", 0),
            "C2|2024-04": ("乙公司", "filed_late", 0),
            "C3|2024-05": ("丙有限公司", "overdue", 0),
            "C1|2024-06": ("甲公司", "in_progress", true["C1|2024-06"][2]),
        }, table
        assert true["C1|2024-06"][2] > 3
        assert {k: v[0] for k, v in next_day.items() if v[0].endswith("*")} == {
            "C1|2024-03": "甲公司*",
            "C2|2024-04": "乙公司*",
        }, table
        assert next_day["C3|2024-05"] == true["C3|2024-05"]
        assert next_day["C1|2024-06"][2] == true["C1|2024-06"][2] - 1  # 07-01 -> 07-02, both workdays
    for n, branch in ((1, False), (3, True)):
        compiled = nights[n]["target"] / "compiled" / "opscenter" / "models"
        for model in ("intermediate/tax/int_tax_filing_status", "marts/tax/mart_tax_filing_status"):
            sql = (compiled / f"{model}.sql").read_text()
            assert ('__fingerprints" as built' in sql) is branch, (n, model)


def _built_keys(nights, n: int) -> dict[str, set]:
    """What night n built by fingerprints: the cutoffs and tasks whose fingerprint changed or is new
    (a cutoff without rows too: its fingerprint is recorded like any other)."""
    f0, f1 = nights[n - 1]["fingerprints"], nights[n]["fingerprints"]
    changed = {c for c, f in f1.items() if f0.get(c) != f}
    built = dict.fromkeys(nights[n]["cutoffs_with_rows"], changed)
    t0, t1 = nights[n - 1]["task_fingerprints"], nights[n]["task_fingerprints"]
    tasks = {t for t, f in t1.items() if t0.get(t) != f}
    p0, p1 = nights[n - 1]["tax_fingerprints"], nights[n]["tax_fingerprints"]
    periods = {p for p, f in p1.items() if p0.get(p) != f}
    built |= {"fct_tasks": tasks, "mart_progress_detail": tasks}
    built |= {"int_tax_filing_status": periods, "mart_tax_filing_status": periods}
    b0, b1 = nights[n - 1]["board_fingerprints"], nights[n]["board_fingerprints"]
    built["mart_progress_board"] = {k for k, f in b1.items() if b0.get(k) != f}
    s0, s1 = (nights[i]["period_fingerprints"]["int_task_period_fingerprints"] for i in (n - 1, n))
    progress_periods = {p for p, f in s1.items() if s0.get(p) != f}
    return built | {"mart_progress_summary": progress_periods, "mart_progress_rollup": progress_periods}


def test_scoped_tests_keep_the_keys_built_since_they_passed(nights):
    """Night 1's tests (the full path) read every row and, passing, leave empty key tables; nights 2 and
    3 run no test, so the pre-hooks add what each built (checked against the fingerprints): after night
    3 the tables hold both nights' keys, and a rerun that builds nothing adds nothing. A build on the
    full path drops its model's table (the full rebuilds, the detail without its fingerprints)."""
    assert "test_scope" not in compiled_test(nights[1]["target"], "unique_column_set_int_invoices_")
    assert nights[1]["scope_keys"] == {m: set() for m in SCOPE_KEY_TABLES}
    built_2, built_3 = _built_keys(nights, 2), _built_keys(nights, 3)
    # I2 re-sent (issued 03-05): March to May; P7 (05-20): May; the new date (the cutoffs without
    # invoices, before I1, are recorded as built: not computed again)
    with_rows = nights[2]["cutoffs_with_rows"]["int_invoices_at_cutoffs"]
    changed = {D(d) for d in ("2024-03-31", "2024-04-30", "2024-05-31", "2024-06-29")}
    assert built_2["int_invoices_at_cutoffs"] == changed and changed <= with_rows
    assert set(nights[2]["fingerprints"]) - with_rows  # cutoffs without rows exist
    assert D("2024-02-29") in with_rows - built_2["int_invoices_at_cutoffs"]  # kept, with rows
    assert (
        0 < len(built_2["fct_tasks"]) < len(nights[2]["task_fingerprints"]) and "T6" in built_2["fct_tasks"]
    )
    assert built_2["mart_tax_filing_status"] == {"2024-05", "2024-06"}
    assert nights[2]["scope_keys"] == built_2
    assert nights[3]["scope_keys"] == {m: built_2[m] | built_3[m] for m in SCOPE_KEY_TABLES}
    assert built_3["fct_tasks"] - built_2["fct_tasks"] and built_2["fct_tasks"] - built_3["fct_tasks"]
    assert nights["rerun_scope_keys"] == nights[3]["scope_keys"]
    for n in (2, 3):
        assert nights[n]["full_scope_keys"] == dict.fromkeys(SCOPE_KEY_TABLES), n
    lost = {"mart_progress_detail": None, LOST_CUTOFF_MODEL: None}
    assert nights["lost_scope_keys"] == nights[3]["scope_keys"] | lost


def test_scoped_tests_read_only_those_keys(nights):
    """On duplicates: the scoped test of int_invoices_at_cutoffs finds the one in a cutoff built since
    it last passed (07-01), not the one in a kept cutoff (02-29), and failing keeps its keys; fct_tasks'
    passes beside a duplicated kept task and clears its keys; the detail's, whose key table the full
    path dropped, reads every row and finds that kept task. The tax filing pair by period: a duplicate
    in settled March passes, one in rebuilt May fails. The board's, summary's and roll-up's unique tests
    and the reconciliations likewise (a summary keeps its keys while a reconciliation of it fails);
    stg_tasks' reads the keys in its key table (T4, as a merge load would leave it), not T16."""
    red = nights["red"]
    assert D("2024-07-01") in red["before"]["int_invoices_at_cutoffs"]
    assert D("2024-02-29") not in red["before"]["int_invoices_at_cutoffs"]
    assert "T16" not in red["before"]["fct_tasks"] and red["before"]["mart_progress_detail"] is None
    assert red["before"]["mart_tax_filing_status"] == {"2024-04", "2024-05", "2024-06"}  # not March
    assert '"test_scope"."intermediate__int_invoices_at_cutoffs"' in red["invoices_sql"]
    assert "test_scope" not in red["detail_sql"]
    assert red["before"]["mart_progress_board"] == {"C3|2024-05", "C1|2024-06"}
    assert "2024-03" not in red["before"]["mart_progress_summary"]
    assert {"2024-05", "2024-04"} & red["before"]["mart_progress_rollup"]
    assert red["before"]["stg_tasks"] == {"T4"}
    assert '"test_scope"."staging__stg_tasks"' in red["stg_sql"]
    assert red["results"] == {
        INVOICES_TEST: ("fail", 1),
        "unique_column_set_int_payments_identified_at_cutoffs_cutoff_date__payment_id": ("pass", 0),
        "unique_column_set_int_payment_applications_direct_cutoff_date__payment_id": ("pass", 0),
        "unique_column_set_int_payment_applications_at_cutoffs_cutoff_date__application_id": ("pass", 0),
        "unique_fct_tasks_task_id": ("pass", 0),
        "unique_mart_progress_detail_task_id": ("fail", 1),
        "unique_int_tax_filing_status_filing_key": ("pass", 0),
        "unique_mart_tax_filing_status_filing_key": ("fail", 1),
        # the built board key's duplicate, not the kept one's; C1|2024-06's days late, not C2|2024-05's
        "unique_mart_progress_board_board_key": ("fail", 1),
        "progress_board_current_stage_consistent": ("fail", 1),
        # the built period's duplicate, not March's; without the detail's key table the reconciliations
        # read every period: T16's duplicated detail row, counted against March's duplicated row twice,
        # so the summary keeps its keys although its own unique test passed
        "unique_mart_progress_summary_summary_key": ("pass", 0),
        "unique_mart_progress_rollup_rollup_key": ("fail", 1),
        "progress_summary_counts_equal_detail_rows": ("fail", 2),
        "progress_summary_partitions_total": ("fail", 2),
        "unique_stg_tasks_task_id": ("fail", 1),  # T4, not T16
    }
    cleared = {m: set() for m in SCOPE_KEY_TABLES}
    kept_models = ("int_invoices_at_cutoffs", "mart_tax_filing_status", "mart_progress_board",
                   "mart_progress_summary", "mart_progress_rollup", "stg_tasks")  # fmt: skip
    kept = {m: red["before"][m] for m in kept_models}
    kept["mart_progress_detail"] = None
    assert red["after"] == cleared | kept


def test_scoped_reconciliations_read_what_the_detail_built(nights):
    """With the detail's key table (T9 built since, on kept board row C2|2024-06) and the summary's
    (no period built since): the board test finds T9's stage state and C1|2024-06's days late (a built
    board key), not T12's (kept row, kept task); the summary tests find the count in T9's period, not
    March's."""
    red = nights["red"]
    assert '"test_scope"."marts__mart_progress_detail"' in red["board_sql"]
    assert red["results_detail_scoped"] == {
        "progress_board_current_stage_consistent": ("fail", 2),
        "progress_summary_counts_equal_detail_rows": ("fail", 1),
        "progress_summary_partitions_total": ("fail", 1),
    }


def test_progress_board_rebuilds_only_changed_rows(nights):
    """mart_progress_board is incremental by board key (client|month; its rows equal the full rebuild
    after nights 2 and 3: test_incremental_night_equals_full_rebuild). The fingerprints move exactly when
    a row can: C2's March (no task, no contract) never; C1's March (settled tasks) not on night 2, but on
    night 3 (its contract K1 corrected); C2's April on night 2 (T17's assignee S2 moved team) and 3 (T17
    and T21 re-sent); C3's May every night (T22 open). K1's correction reaches C1's June (no contract
    any more: not signed) and removes C1's April (a contract month without tasks: only the contract
    part of the fingerprint can see it). On 07-02 (no raw change), on a copy with every board row
    corrupted, only the rows with an open task (C1 June: T4, T23; C2 June: T9; C2 July: T12; C3 May:
    T22; C3 July: T10) are rebuilt, the other seven keep the corruption."""
    f1, f2, f3 = (nights[n]["board_fingerprints"] for n in (1, 2, 3))
    assert len(f1) == len(f2) == len(f3) == 36  # C1..C3 x the board's 12 months (C4: no chain task)
    assert "C1|2023-07" in f2 and "C1|2023-07" not in f3 and "C3|2024-07" in f3
    assert f1["C2|2024-03"] == f2["C2|2024-03"] == f3["C2|2024-03"]
    assert f1["C1|2024-03"] == f2["C1|2024-03"] != f3["C1|2024-03"]
    assert f1["C2|2024-04"] != f2["C2|2024-04"] != f3["C2|2024-04"]
    assert f1["C3|2024-05"] != f2["C3|2024-05"] != f3["C3|2024-05"]
    b2, b3 = nights[2]["board"], nights[3]["board"]
    assert b2["C1|2024-06"] == ("K1", "completed", "document_collection", "⚪ 已完成")
    assert b3["C1|2024-06"] == (None, "not_started", "signing", "🔴 已延迟")  # T4 reopened, due 06-15
    assert b3["C1|2024-02"] == ("K1", "completed", "document_collection", "未开始")
    assert b3["C2|2024-06"][1:3] == ("not_started", "signing")
    assert b2["C1|2024-04"] == ("K1", "completed", "document_collection", "未开始")
    assert sorted(b3) == ["C1|2024-01", "C1|2024-02", "C1|2024-03", "C1|2024-05",
                          "C1|2024-06", "C2|2024-04", "C2|2024-05", "C2|2024-06", "C2|2024-07",
                          "C3|2024-05", "C3|2024-06", "C3|2024-07"]  # fmt: skip
    kept = sorted(k for k, name in nights["board_next"].items() if name.endswith("*"))
    assert kept == ["C1|2024-01", "C1|2024-02", "C1|2024-03", "C1|2024-05",
                    "C2|2024-04", "C2|2024-05", "C3|2024-06"]  # fmt: skip
    assert sorted(nights["board_next"]) == sorted(b3)
    for n, branch in ((1, False), (3, True)):
        sql = (nights[n]["target"] / "compiled" / "opscenter" / "models" / "marts" / "progress"
               / "mart_progress_board.sql").read_text()  # fmt: skip
        assert ('__fingerprints" as built' in sql) is branch, n
