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
    # every payment is inside the 30-day window: no history to compare the channel mix with
    assert out["payment_channel_concentration"].observed is None
    assert "无历史可比" in out["payment_channel_concentration"].message
    assert out["future_updated_at_payments"].observed == 0
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
    # the site is built once after every frame is validated: the index links every frame's page
    index = (d / "docs" / "index.html").read_text(encoding="utf-8")
    for page in pages:
        assert page.relative_to(d / "docs").as_posix() in index, page


def test_broken_data_docs_show_the_failed_expectation(broken):
    d, _ = broken
    page = next((d / "docs" / "validations").rglob("*fct_payments.html")).read_text(encoding="utf-8")
    assert "Failed" in page and "Unsuccessful Expectations" in page
    assert "values must be greater than" in page  # the amount range expectation, rendered


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


def _replace_payments(wh, window_bank: int, history_bank: int) -> None:
    """100 payments in the 30-day window and 100 in the 180 days before it, `*_bank` of them by
    bank transfer, the rest by WeChat."""
    import duckdb

    with duckdb.connect(str(wh)) as conn:
        conn.execute("delete from core.fct_payments")
        conn.execute(f"""insert into core.fct_payments
            select 'W' || i, 100::DECIMAL, DATE '2026-11-20' - (i % 30)::INTEGER,
                case when i < {window_bank} then 'bank_transfer' else 'wechat' end, 'client_id'
            from range(100) r(i)
            union all
            select 'H' || i, 100::DECIMAL, DATE '2026-11-20' - 30 - (i % 180)::INTEGER,
                case when i < {history_bank} then 'bank_transfer' else 'wechat' end, 'client_id'
            from range(100) r(i)""")


@pytest.mark.parametrize(
    ("window_bank", "history_bank", "passed", "shift"),
    [
        (97, 96, True, 0.97 - 0.96),  # a firm whose clients simply pay by bank transfer: no alarm
        (97, 30, False, 0.97 - 0.30),  # a sudden jump: a channel mapping broke
        (60, 60, True, 0.0),
    ],
)
def test_channel_concentration_compares_with_own_history(tmp_path, window_bank, history_bank, passed, shift):
    wh = build_warehouse(tmp_path / "wh.duckdb")
    _replace_payments(wh, window_bank, history_bank)
    [o] = run_quality_suites(wh, AS_OF, None, QualityConfig(), only=["payment_channel_concentration"])
    assert (o.passed, o.severity) == (passed, WARN)
    assert o.observed == pytest.approx(shift)


def test_future_updated_at_is_a_warning(tmp_path):
    import duckdb

    wh = build_warehouse(tmp_path / "wh.duckdb")
    with duckdb.connect(str(wh)) as conn:
        # as of 11-20: next morning's export (11-21) is fine, 11-22 and 2027 are from the future
        conn.execute("delete from raw.clients")
        conn.execute("""insert into raw.clients (client_id, updated_at) values
            ('C1', TIMESTAMP '2026-11-21 01:30:00'), ('C2', TIMESTAMP '2026-11-22 00:00:00'),
            ('C3', TIMESTAMP '2027-01-01 00:00:00')""")
    [o] = run_quality_suites(wh, AS_OF, None, QualityConfig(), only=["future_updated_at_clients"])
    assert (o.passed, o.severity, o.observed) == (False, WARN, 2)
