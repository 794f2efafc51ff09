"""The GX layer on a hand-made warehouse: all green as built, then one defect per kind."""

from __future__ import annotations

import shutil

import pytest

from orchestration.quality import ERROR, WARN, QualityConfig, run_quality_suites
from tests.quality_fixtures import AS_OF, break_warehouse, build_warehouse


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    wh = build_warehouse(d / "wh.duckdb")
    outcomes = run_quality_suites(wh, AS_OF, d / "docs", QualityConfig())
    return d, {o.name: o for o in outcomes}


@pytest.fixture(scope="module")
def broken(tmp_path_factory, clean):
    d = tmp_path_factory.mktemp("broken")
    shutil.copy(clean[0] / "wh.duckdb", d / "wh.duckdb")
    break_warehouse(d / "wh.duckdb")
    outcomes = run_quality_suites(d / "wh.duckdb", AS_OF, d / "docs", QualityConfig())
    return d, {o.name: o for o in outcomes}


def test_clean_warehouse_passes_every_check(clean):
    _, out = clean
    failed = [o.message for o in out.values() if not o.passed]
    assert failed == []
    # observations computed by hand from the fixture
    assert out["volume_accepted_payments"].observed == pytest.approx(95 / 100)  # tonight 95, median 100
    assert out["volume_unique_payments"].observed == pytest.approx(93 / 98)
    assert out["payment_unidentified_share"].observed == pytest.approx(2 / 40)
    assert out["payment_channel_concentration"].observed == pytest.approx(20 / 40)
    assert out["freshness_payments"].observed == 1
    assert out["reject_share_payments"].observed == 0  # 2 rejects are within the allowance of 3
    assert out["reject_share_feedback"].observed is None  # optional entity, not loaded
    assert out["clients_other_industry_share"].observed == pytest.approx(1 / 3)


def test_clean_data_docs_written(clean):
    d, _ = clean
    assert (d / "docs" / "index.html").is_file()
    pages = list((d / "docs" / "validations").rglob("*.html"))
    assert len(pages) == 8  # one validation page per frame
    assert (d / "docs" / "outcomes.json").is_file()


def test_each_defect_fails_its_check_with_its_severity(broken):
    _, out = broken
    failed = {name: (o.severity, o.observed) for name, o in out.items() if not o.passed}
    assert set(failed) == {
        "payment_amount_range",
        "freshness_payments",
        "volume_accepted_payments",
        "volume_unique_payments",
        "payment_unidentified_share",
    }
    assert failed["payment_amount_range"] == (ERROR, 1)  # one negative payment row
    assert out["payment_amount_range"].failing_rows == 1
    assert failed["freshness_payments"] == (WARN, 5)  # updated 2026-11-15, as of 11-20, lag allowed 2
    assert failed["volume_accepted_payments"] == (ERROR, pytest.approx(40 / 100))
    assert failed["volume_unique_payments"] == (ERROR, pytest.approx(40 / 98))
    # P1..P10 plus P33 (P7 was already unidentified): 11 of 40
    assert failed["payment_unidentified_share"] == (ERROR, pytest.approx(11 / 40))
    assert out["reject_share_payments"].observed == 0  # 2 rejects: within the allowance
    assert "-5" in out["payment_amount_range"].message


def test_broken_data_docs_written(broken):
    d, _ = broken
    index = (d / "docs" / "index.html").read_text(encoding="utf-8")
    assert "core.fct_payments" in index


def test_volume_with_short_history_passes_with_note(tmp_path):
    wh = build_warehouse(tmp_path / "wh.duckdb", history_nights=2)
    out = {
        o.name: o
        for o in run_quality_suites(wh, AS_OF, None, QualityConfig(), only=["volume_accepted_payments"])
    }
    assert list(out) == ["volume_accepted_payments"]
    o = out["volume_accepted_payments"]
    assert o.passed and o.observed is None
    assert "历史仅 2 晚" in o.message


def test_config_thresholds_and_severity_override(tmp_path):
    wh = build_warehouse(tmp_path / "wh.duckdb")
    cfg = QualityConfig(
        max_unidentified_share=0.04, severity_overrides={"payment_unidentified_share": "warn"}
    )
    out = run_quality_suites(wh, AS_OF, None, cfg, only=["payment_unidentified_share"])
    assert [(o.passed, o.severity) for o in out] == [(False, WARN)]  # 5% > 4%


def test_missing_table_fails_its_checks(tmp_path):
    import duckdb

    wh = build_warehouse(tmp_path / "wh.duckdb")
    with duckdb.connect(str(wh)) as conn:
        conn.execute("drop table core.fct_tasks")
    out = run_quality_suites(wh, AS_OF, None, QualityConfig(), only=["task_error_count_range"])
    assert [(o.passed, o.severity) for o in out] == [(False, ERROR)]
    assert "无法查询" in out[0].message


def test_config_json_overrides_and_rejects_unknown_keys(tmp_path, monkeypatch):
    path = tmp_path / "q.json"
    path.write_text(
        '{"freshness_lag_days": 3, "unidentified_methods": ["none", "unknown"]}', encoding="utf-8"
    )
    monkeypatch.setenv("OPSCENTER_QUALITY_CONFIG", str(path))
    cfg = QualityConfig.load()
    assert (cfg.lag_days("payments"), cfg.lag_days("staff")) == (3, 60)
    assert cfg.unidentified_methods == ("none", "unknown")
    path.write_text('{"max_unidentfied_share": 0.1}', encoding="utf-8")
    with pytest.raises(ValueError, match="max_unidentfied_share"):
        QualityConfig.load()


def test_reject_share_beyond_allowance_is_judged(clean, tmp_path):
    """With no allowance the true share (2 of 97) is observed; a 1% ceiling then fails it."""
    wh = clean[0] / "wh.duckdb"
    strict = QualityConfig(reject_allowance_rows=0, max_reject_share=0.01)
    out = {o.name: o for o in run_quality_suites(wh, AS_OF, None, strict, only=["reject_share_payments"])}
    assert out["reject_share_payments"].observed == pytest.approx(2 / 97)
    assert not out["reject_share_payments"].passed
    assert out["reject_share_payments"].severity == ERROR
