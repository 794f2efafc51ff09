"""Incremental models of the ml/forecast domain against a recomputation from scratch.

Renewal model (orchestration/models/renewal.py, TuningCache): hand-made feature rows in a real DuckDB
table (what intermediate.int_contract_renewal_features holds), 3 years of month-end contracts whose
renewal depends on two features, plus a few contracts ending mid-month. Night 1 (2026-11-20) chooses C
by CV twice (the hold-out evaluation's and the published fit's tuning rows) and stores both; night 2
(2026-11-21) gains one closed contract (ended 2026-10-21: its window closed that day), so the nightly
training rows change, but the tuning rows (labels known by the month end before) do not: no CV runs,
and the scores and evaluation equal a run with an empty store bit for bit. A corrected label of an old
contract changes both tuning sets: both CVs run again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.models import renewal

NIGHT_1 = dt.date(2026, 11, 20)
NIGHT_2 = dt.date(2026, 11, 21)


def _features() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ends = [(s + pd.offsets.MonthEnd(0)).date() for s in pd.date_range("2023-01-01", "2027-03-01", freq="MS")]
    rows = []
    for end in ends:
        for j in range(12):
            rows.append({"end_date": end, "j": j})
    for day in (5, 12, 21, 25):  # mid-month ends of October 2026: windows closing on 11-05 .. 11-25
        rows += [{"end_date": dt.date(2026, 10, day), "j": j} for j in range(3)]
    frame = pd.DataFrame(rows)
    n = len(frame)
    frame["contract_id"] = [f"K{i:04d}" for i in range(n)]
    frame["client_id"] = [f"C{i:04d}" for i in range(n)]
    for col in renewal.CATEGORICAL:
        frame[col] = rng.choice(["a", "b", "c"], n)
    for col in renewal.NUMERIC:
        frame[col] = rng.normal(size=n).round(3)
    months = (pd.to_datetime(frame["end_date"]) - pd.Timestamp("2023-01-01")).dt.days / 30.4
    # renewal falls over time (1.8 → about −0.7 in the logit): the recalibrated model beats the plain one
    logit = 0.8 * frame["overdue_share"] - 1.2 * frame["late_task_share"] + 1.8 - 0.05 * months
    frame[renewal.LABEL] = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame["feature_window_days"] = 300.0
    frame["feedback_observed_days"] = np.where(frame["end_date"] < dt.date(2024, 1, 1), 150.0, 300.0)
    frame["complaints"] = frame["complaints"].abs()
    frame["feature_date"] = frame["end_date"] - dt.timedelta(days=60)
    frame["renewed_before_feature_date"] = False
    frame["is_renewed"] = False
    return frame.drop(columns="j")


def _night(conn: duckdb.DuckDBPyConnection, features: pd.DataFrame, as_of: dt.date):
    """What dbt's int_contract_renewal_features holds on `as_of`, then the renewal step."""
    frame = features.copy()
    frame["renewal_window_closed"] = [d + dt.timedelta(days=30) < as_of for d in frame["end_date"]]
    frame["state_as_of"] = ["active" if d >= as_of else "expired" for d in frame["end_date"]]
    frame[renewal.LABEL] = frame[renewal.LABEL].astype(object).where(frame["renewal_window_closed"], None)
    conn.execute("create schema if not exists intermediate")
    conn.register("night_features", frame)
    conn.execute("create or replace table intermediate.int_contract_renewal_features as from night_features")
    conn.unregister("night_features")
    return renewal.train_and_score(conn, as_of)


@pytest.fixture
def cv_runs(monkeypatch):
    calls = []
    original = renewal._choose_c

    def counted(rows):
        calls.append(len(rows))
        return original(rows)

    monkeypatch.setattr(renewal, "_choose_c", counted)
    return calls


def _from_scratch(path, features, as_of):
    with duckdb.connect(str(path)) as conn:
        return _night(conn, features, as_of)


def _same(got, want):
    for g, w in zip(got, want, strict=True):
        pd.testing.assert_frame_equal(g, w, check_exact=True)


def test_an_unchanged_tuning_set_reuses_c_and_scores_identically(tmp_path, cv_runs):
    features = _features()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        first = _night(conn, features, NIGHT_1)
        assert len(cv_runs) == 2  # the evaluation's and the published fit's tuning rows
        stored = conn.execute("select count(*) from ml.renewal_model_tuning").fetchall()[0][0]
        assert stored == 2
        again = _night(conn, features, NIGHT_1)  # a rerun of the same night
        assert len(cv_runs) == 2
        _same(again, first)
        second = _night(conn, features, NIGHT_2)
        assert len(cv_runs) == 2  # one more closed contract, same tuning rows: no CV
    closed = [
        (d + dt.timedelta(days=30) < NIGHT_2) - (d + dt.timedelta(days=30) < NIGHT_1)
        for d in features["end_date"]
    ]
    assert sum(closed) == 3  # the three contracts ended 2026-10-21 joined the nightly training rows
    assert second[0]["model_name"].iloc[0] == renewal.MODEL_NAME
    assert second[0]["renewal_probability"].between(0, 1).all() and len(second[0]) > 20
    assert not second[0]["renewal_probability"].equals(first[0]["renewal_probability"])  # refitted weights
    _same(second, _from_scratch(tmp_path / "fresh.duckdb", features, NIGHT_2))
    assert len(cv_runs) == 4  # the fresh warehouse had nothing stored


def test_a_changed_training_set_chooses_c_again(tmp_path, cv_runs):
    features = _features()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        _night(conn, features, NIGHT_1)
        assert len(cv_runs) == 2
        corrected = features.copy()
        old = corrected.index[corrected["end_date"] == dt.date(2023, 3, 31)][0]
        corrected.loc[old, renewal.LABEL] = not corrected.loc[old, renewal.LABEL]  # a late correction
        got = _night(conn, corrected, NIGHT_2)
        assert len(cv_runs) == 4  # both tuning sets hold the corrected contract
        kept = conn.execute("select count(*) from ml.renewal_model_tuning").fetchall()[0][0]
        assert kept == 2  # only the entries the night used are kept
    _same(got, _from_scratch(tmp_path / "fresh.duckdb", corrected, NIGHT_2))


def test_tuning_rows_are_the_labels_known_by_the_last_month_end():
    features = _features()
    features["renewal_window_closed"] = [d + dt.timedelta(days=30) < NIGHT_2 for d in features["end_date"]]
    rows = renewal.tuning_rows(renewal._closed(features), NIGHT_2)
    # label date = end + 30 before 2026-11-01: ends up to 2026-10-01 (none that day): September and older
    assert rows["end_date"].max() == dt.date(2026, 9, 30)
    assert len(rows) == 12 * 45  # 45 month ends 2023-01 .. 2026-09, 12 contracts each
    # complaints filled at the tuning rows' own rate: Σ complaints ÷ Σ observed days of these rows
    raw = features.set_index("contract_id").loc[rows["contract_id"]]
    rate = raw["complaints"].sum() / raw["feedback_observed_days"].sum()
    filled = raw["complaints"].to_numpy() + rate * (300.0 - raw["feedback_observed_days"].to_numpy())
    np.testing.assert_allclose(rows["complaints"].to_numpy(), filled)


# --- int_forecast_components, incremental by cutoff ---------------------------------------------------
# The hand-made firm of tests/test_incremental_nights.py (three nights with late payments, a re-sent
# invoice amount, a back-dated void, a write-off, a re-sent payment, a new client with a late invoice)
# plus contracts, so every component has rows: K0 (C3, ended 2023-12-31, not renewed: the renewal rate),
# K1 (C1, monthly 1000, ends 2024-06-30), K2 (C2, monthly 800 from 2024-04-01, signed 02-20; night 2
# re-sends it with the fee corrected to 850, which changes every cutoff from 02-29 on). After nights 2
# and 3 the incremental table equals a --full-refresh build of it over a copy of the same warehouse, row
# for row.

FORECAST_NIGHTS = [("2024-06-28", None), ("2024-06-29", "night_2"), ("2024-07-01", "night_3")]


def _contracts(conn, fee_k2: str, updated: str) -> None:
    from tests import dbt_helpers as h
    from tests.test_incremental_nights import ts, upsert

    upsert(conn, "contracts", "contract_id", [
        h.contract_row("K0", "C3", "600.00", "2023-01-01", "2023-12-31", updated_at=ts("2024-01-01"),
                       status="expired"),
        h.contract_row("K1", "C1", "1000.00", "2023-07-01", "2024-06-30", updated_at=ts("2024-01-01")),
        # signed 02-20, before it starts: the 02-29 cutoff knows K2, and night 2's fee correction is the
        # only change of that cutoff's inputs (the contract part of int_forecast_input_fingerprints)
        h.contract_row("K2", "C2", fee_k2, "2024-04-01", "2025-03-31", updated_at=ts(updated),
                       signed_date=dt.date(2024, 2, 20)),
    ])  # fmt: skip


def _components(path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("select * from intermediate.int_forecast_components order by all").fetchall()


def _forecast_fingerprints(path) -> dict:
    with duckdb.connect(str(path), read_only=True) as conn:
        return dict(conn.execute("select * from intermediate.int_forecast_input_fingerprints").fetchall())


def _hand_made_firm(tmp_path_factory, name: str):
    """tests/test_incremental_nights.py's firm as of its night 1 in a new warehouse: (folder, path, open
    connection)."""
    from tests import dbt_helpers as h
    from tests import test_incremental_nights as nights_data

    tmp = tmp_path_factory.mktemp(name)
    path = tmp / "warehouse.duckdb"
    conn = h.new_raw_warehouse(path)
    nights_data.night_1(conn)
    return tmp, path, conn


@pytest.fixture(scope="module")
def forecast_nights(tmp_path_factory):
    import shutil

    from tests import dbt_helpers as h
    from tests import test_incremental_nights as nights_data

    tmp, path, conn = _hand_made_firm(tmp_path_factory, "forecast_nights")
    _contracts(conn, "800.00", "2024-01-01")
    # K1's monthly invoices 2023-07 .. 2024-05, each paid on the 10th of the next month (the reference
    # distribution: everything collected one month after the issue month)
    months = pd.date_range("2023-07-01", "2024-05-01", freq="MS")
    at = nights_data.ts("2024-06-01")
    h.insert_rows(conn, "invoices", [
        h.invoice_row(f"H{m:%y%m}", "C1", f"{m:%Y-%m}-05", f"{m:%Y-%m}-05", "1000.00", updated_at=at)
        for m in months
    ])  # fmt: skip
    h.insert_rows(conn, "payments", [
        h.payment_row(f"Q{m:%y%m}", f"{m + pd.DateOffset(months=1):%Y-%m}-10", "1000.00",
                      invoice_id=f"H{m:%y%m}", updated_at=at)
        for m in months
    ])  # fmt: skip
    conn.close()
    select = ["--select", "+int_forecast_components"]
    out = {}
    for n, (as_of, change) in enumerate(FORECAST_NIGHTS, start=1):
        if change is not None:
            with duckdb.connect(str(path)) as conn:
                getattr(nights_data, change)(conn)
                # this firm's contracts over the night's changes: night 2 corrects K2's fee; night 3's
                # correction of the base firm's K1 (for the progress board) is re-sent as this firm's K1
                _contracts(conn, "850.00", "2024-06-29")
        args = (
            ["build", "--resource-type", "seed", "--resource-type", "model", *select]
            if n == 1
            else ["run", *select]
        )
        h.run_dbt(args, path, as_of, tmp / f"target_{n}")
        out[n] = {"rows": _components(path), "fingerprints": _forecast_fingerprints(path)}
        if n > 1:
            copy = tmp / f"full_{n}" / "warehouse.duckdb"
            copy.parent.mkdir()
            shutil.copy(path, copy)
            h.run_dbt(
                ["run", "--full-refresh", "--select", "int_forecast_components"], copy, as_of, tmp / f"tf_{n}"
            )
            out[n]["full"] = _components(copy)
    out["compiled"] = (tmp / "target_3" / "compiled" / "opscenter" / "models" / "intermediate" / "forecast"
                       / "int_forecast_components.sql").read_text()  # fmt: skip
    return out


@pytest.mark.parametrize("night", [2, 3])
def test_forecast_components_incremental_equals_full_rebuild(forecast_nights, night):
    got, full = forecast_nights[night]["rows"], forecast_nights[night]["full"]
    assert len(full) > 20
    assert {r[5] for r in full} >= {"open", "scheduled"}
    assert got == full


def test_forecast_components_rebuild_only_changed_cutoffs(forecast_nights):
    """Night 3 changes the payment inputs of 03-31 .. 05-31 (P2 re-sent, C4 now matches P4's payer) and
    adds 06-30 and the as-of date 07-01; the older month ends keep their fingerprint (and rows)."""
    assert '"int_forecast_components__fingerprints" as built' in forecast_nights["compiled"]
    f2, f3 = forecast_nights[2]["fingerprints"], forecast_nights[3]["fingerprints"]
    changed = sorted(d for d in f3 if d in f2 and f2[d] != f3[d])
    assert changed == [dt.date(2024, 3, 31), dt.date(2024, 4, 30), dt.date(2024, 5, 31)]
    assert sorted(set(f3) - set(f2)) == [dt.date(2024, 6, 30), dt.date(2024, 7, 1)]
    kept = {d for d in f3 if f2.get(d) == f3[d]}
    assert dt.date(2024, 2, 29) in kept and len(kept) == len(f3) - 5
    # night 2's fee correction of K2 (signed 2024-02-20) reached the cutoffs from 02-29 on, not 01-31;
    # nothing else of 02-29 changed that night, so its rebuild (the equality above) rests on it
    f1 = forecast_nights[1]["fingerprints"]
    assert f1[dt.date(2024, 1, 31)] == f2[dt.date(2024, 1, 31)]
    assert f1[dt.date(2024, 2, 29)] != f2[dt.date(2024, 2, 29)]
    scheduled = {(r[0], r[2]): r[6] for r in forecast_nights[2]["rows"] if r[5] == "scheduled" and r[1] == 1}
    assert scheduled  # K1/K2's coming cycles are forecast


# Invoices per cutoff (intermediate.int_invoices_at_cutoffs) are incremental by cutoff as the rule
# models, on int_cutoff_input_fingerprints, whose invoice part is summed from stg_invoices (an invoice's
# unvoided hash from its issue date, its final state's hash from the day its void / write-off is known).
# The hand-made firm of tests/test_incremental_nights.py (night 1, as of 2024-06-28), then late
# corrections that must reach month ends that are already built:
#   night 2, 2024-06-29: I2 (issued 03-05) re-sent void, its update back-dated to 04-15: 04-30 and 05-31
#            change, 03-31 not (the void was not known then); I1 (01-05) re-sent written off as of 05-02:
#            05-31 changes; I6 (06-05) re-sent with a corrected amount: only the as-of cutoff has it.
#   night 3, 2024-07-01 (the date crosses June's end: 06-30 becomes a month-end cutoff): I3 (02-10)
#            written off with an update back-dated to 03-15 (03-31 .. 05-31 change); I4 voided as of
#            06-30 (06-30 and 07-01 only); a re-sent payment P5 with unchanged values (nothing changes).
# After nights 2 and 3 the rule's tables and core's invoices, payments and applications equal a
# --full-refresh build over a copy of the same warehouse; a rerun of night 3 changes nothing.

INVOICE_NIGHTS = ["2024-06-28", "2024-06-29", "2024-07-01"]
INVOICE_TABLES = (
    "intermediate.int_invoices_at_cutoffs", "intermediate.int_cutoff_input_fingerprints",
    "intermediate.int_payments_identified_at_cutoffs", "intermediate.int_payment_applications_direct",
    "intermediate.int_payment_applications_client", "intermediate.int_payment_applications_at_cutoffs",
    "core.fct_invoices", "core.fct_payments", "core.fct_payment_applications",
)  # fmt: skip


def _invoice_corrections(conn, night: int) -> None:
    from tests import dbt_helpers as h
    from tests.test_incremental_nights import ts, upsert

    if night == 2:
        upsert(conn, "invoices", "invoice_id", [
            h.invoice_row("I2", "C1", "2024-03-05", "2024-04-04", "1200.00", status="void",
                          updated_at=ts("2024-04-15")),
            h.invoice_row("I1", "C1", "2024-01-05", "2024-02-04", "1000.00", status="written_off",
                          updated_at=ts("2024-05-02")),
            h.invoice_row("I6", "C1", "2024-06-05", "2024-07-05", "750.00", updated_at=ts("2024-06-29")),
        ])  # fmt: skip
    else:
        upsert(conn, "invoices", "invoice_id", [
            h.invoice_row("I3", "C2", "2024-02-10", "2024-03-11", "800.00", status="written_off",
                          updated_at=ts("2024-03-15")),
            h.invoice_row("I4", "C2", "2024-04-10", "2024-05-10", "900.00", status="void",
                          updated_at=ts("2024-06-30")),
        ])  # fmt: skip
        upsert(conn, "payments", "payment_id", [
            h.payment_row("P5", "2024-06-20", "400.00", client_id="C1", updated_at=ts("2024-06-01")),
        ])  # fmt: skip


def _invoice_state(path) -> dict:
    with duckdb.connect(str(path), read_only=True) as conn:
        hashes = {
            t: conn.execute(f"select count(*), coalesce(sum(hash(t)), 0) from {t} as t").fetchone()
            for t in INVOICE_TABLES
        }
        fingerprints = dict(
            conn.execute("select * from intermediate.int_cutoff_input_fingerprints").fetchall()
        )
        voids = conn.execute(
            "select cutoff_date, invoice_id, is_void, is_written_off, amount"
            " from intermediate.int_invoices_at_cutoffs"
            " where is_void or is_written_off or invoice_id = 'I6' order by all"
        ).fetchall()
    return {"hashes": hashes, "fingerprints": fingerprints, "voids": voids}


@pytest.fixture(scope="module")
def invoice_nights(tmp_path_factory):
    import shutil

    from tests import dbt_helpers as h

    tmp, path, conn = _hand_made_firm(tmp_path_factory, "invoice_nights")
    conn.close()
    select = ["--select", "+fct_invoices", "+fct_payments"]
    out = {}
    for n, as_of in enumerate(INVOICE_NIGHTS, start=1):
        if n > 1:
            with duckdb.connect(str(path)) as conn:
                _invoice_corrections(conn, n)
        first = ["build", "--resource-type", "seed", "--resource-type", "model", *select]
        h.run_dbt(first if n == 1 else ["run", *select], path, as_of, tmp / f"target_{n}")
        out[n] = _invoice_state(path)
        if n > 1:
            copy = tmp / f"full_{n}" / "warehouse.duckdb"
            copy.parent.mkdir()
            shutil.copy(path, copy)
            h.run_dbt(["run", "--full-refresh", *select], copy, as_of, tmp / f"tf_{n}")
            out[n]["full"] = _invoice_state(copy)
    h.run_dbt(["run", *select], path, INVOICE_NIGHTS[-1], tmp / "target_rerun")
    out["rerun"] = _invoice_state(path)
    out["compiled"] = (tmp / "target_3" / "compiled" / "opscenter" / "models" / "intermediate" / "payments"
                       / "int_invoices_at_cutoffs.sql").read_text()  # fmt: skip
    return out


@pytest.mark.parametrize("night", [2, 3])
def test_invoices_at_cutoffs_incremental_equals_full_rebuild(invoice_nights, night):
    got, full = invoice_nights[night], invoice_nights[night]["full"]
    assert full["hashes"]["intermediate.int_invoices_at_cutoffs"][0] > 15
    assert {t: v for t, v in got["hashes"].items() if full["hashes"][t] != v} == {}
    assert got["voids"] == full["voids"]


def test_invoice_corrections_change_only_the_cutoffs_that_knew_them(invoice_nights):
    """A void / write-off reaches a built month end only when its update is dated on or before it."""
    assert '"int_invoices_at_cutoffs__fingerprints" as built' in invoice_nights["compiled"]
    f1, f2, f3 = (invoice_nights[n]["fingerprints"] for n in (1, 2, 3))
    d = dt.date.fromisoformat
    assert sorted(c for c in f2 if c in f1 and f1[c] != f2[c]) == [d("2024-04-30"), d("2024-05-31")]
    assert sorted(set(f2) - set(f1)) == [d("2024-06-29")]
    assert sorted(c for c in f3 if c in f2 and f2[c] != f3[c]) == [
        d("2024-03-31"), d("2024-04-30"), d("2024-05-31")
    ]  # fmt: skip
    assert sorted(set(f3) - set(f2)) == [d("2024-06-30"), d("2024-07-01")]
    state = {(r[0].isoformat(), r[1]): r[2:] for r in invoice_nights[3]["voids"]}
    # I2 void from 04-30 on (known 04-15), I1 written off from 05-31 (known 05-02), I3 written off from
    # 03-31 (known 03-15), I4 void at 06-30 and 07-01 only
    assert ("2024-03-31", "I2") not in state and state[("2024-04-30", "I2")][:2] == (True, False)
    assert ("2024-04-30", "I1") not in state and state[("2024-05-31", "I1")][:2] == (False, True)
    assert ("2024-02-29", "I3") not in state and state[("2024-03-31", "I3")][:2] == (False, True)
    assert ("2024-05-31", "I4") not in state and state[("2024-06-30", "I4")][:2] == (True, False)
    assert state[("2024-07-01", "I6")][2] == Decimal("750.00")
    assert state[("2024-06-30", "I6")][2] == Decimal("750.00")


def test_invoice_rerun_changes_nothing(invoice_nights):
    assert invoice_nights["rerun"]["hashes"] == invoice_nights[3]["hashes"]
