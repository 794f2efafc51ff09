"""The raw/<entity> Dagster assets: real in-process materialization against a real DuckDB file."""

import dagster as dg
import duckdb

from orchestration.assets.raw import raw_assets
from orchestration.resources import LandingZoneResource, WarehouseResource

ASSETS = {a.key: a for a in raw_assets}


def materialize(tmp_path, entity):
    return dg.materialize(
        [ASSETS[dg.AssetKey(["raw", entity])]],
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
            "landing_zone": LandingZoneResource(path=str(tmp_path / "raw"), settle_seconds=0),
        },
        run_config={"ops": {f"raw__{entity}": {"config": {"as_of_date": "2026-01-07"}}}},
        raise_on_error=False,
    )


def test_one_asset_per_entity_in_group_raw():
    assert sorted(k.to_user_string() for k in ASSETS) == [
        "raw/clients", "raw/contracts", "raw/feedback", "raw/invoices",
        "raw/payments", "raw/staff", "raw/targets", "raw/tasks",
    ]  # fmt: skip
    assert {a.group_names_by_key[k] for a in raw_assets for k in a.keys} == {"raw"}


def test_asset_loads_and_reports_row_accounting(tmp_path):
    folder = tmp_path / "raw" / "payments"
    folder.mkdir(parents=True)
    header = "payment_id,paid_date,amount,channel,updated_at\n"
    (folder / "a.csv").write_text(
        header + "P1,2026-01-01,10,cash,2026-01-01\nP2,2026-01-01,0,cash,2026-01-01\n"
    )
    (folder / "b.csv").write_text(header + "P1,2026-01-02,12,wechat,2026-01-02\n")

    result = materialize(tmp_path, "payments")

    assert result.success
    [mat] = result.asset_materializations_for_node("raw__payments")
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert (meta["files"], meta["rows_read"], meta["rows_accepted"], meta["rows_rejected"]) == (2, 3, 2, 1)
    assert (meta["rows_superseded"], meta["rows_unique"]) == (1, 1)
    assert meta["load_id"] == result.run_id
    assert "| payments/a.csv | csv | utf-8 | loaded | 2 | 1 | 1 | 1 |" in meta["files_table"]
    db = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert db.execute("SELECT payment_id, amount::VARCHAR FROM raw.payments").fetchall() == [("P1", "12.00")]
    assert db.execute("SELECT DISTINCT load_id FROM raw.load_rejects").fetchall() == [(result.run_id,)]
    db.close()


def test_asset_fails_with_the_load_error(tmp_path):
    (tmp_path / "raw").mkdir()
    result = materialize(tmp_path, "staff")
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    description = failure.step_failure_data.user_failure_data.description
    assert "required folder" in description and "staff is missing" in description


def test_asset_uses_the_runs_as_of_for_dates_and_skips_unchanged_files(tmp_path):
    folder = tmp_path / "raw" / "payments"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(
        "payment_id,paid_date,amount,channel,updated_at\n"
        "P1,2031-01-07,10,cash,2026-01-01\n"  # as-of 2026-01-07 + 5 years: the last plausible day
        "P2,2031-01-08,10,cash,2026-01-01\n"  # one day later: rejected
        "P3,2026-01-01,10,cash,2026-01-08 09:00\n"  # updated after the as-of date: accepted, flagged
    )
    first = materialize(tmp_path, "payments")
    second = materialize(tmp_path, "payments")
    meta = [
        {k: v.value for k, v in r.asset_materializations_for_node("raw__payments")[0].metadata.items()}
        for r in (first, second)
    ]
    assert [(m["files_read"], m["files_skipped_unchanged"]) for m in meta] == [(1, 0), (0, 1)]
    assert [(m["rows_accepted"], m["rows_rejected"], m["rows_future_updated_at"]) for m in meta] == [
        (2, 1, 1)
    ] * 2
    db = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    [(reason,)] = db.execute("SELECT reason FROM raw.load_rejects").fetchall()
    assert "plausible range 2000-01-01 .. 2031-01-07" in reason
    assert db.execute("SELECT record_key FROM raw.load_warnings").fetchall() == [("P3",)]
    db.close()
