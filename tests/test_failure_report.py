"""The failed night's one alert, from a real Dagster run: every failed step and check, named, masked,
bounded, with where to look and what to do; dbt failures read from a run_results.json."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.failure_report import dbt_failures
from orchestration.quality.dbt_tests import record_failures, report_path
from orchestration.sensors import notify_run_failure, notify_run_warnings

AS_OF = "2026-11-20"
HUGE = "字段内容" + "x" * 3_000_000  # a 3 MB field in an error message


def _night(instance: dg.DagsterInstance, fail: bool = True):
    @dg.asset(key=["raw", "clients"])
    def clients():
        if fail:
            raise dg.Failure(description="clients/2026-11-20.csv: 表头缺少列 client_id（整文件拒收）")

    @dg.asset(key=["raw", "payments"])
    def payments():
        if fail:
            raise ValueError(f"payments/2026-11-20.csv 第 7 行无法解析：联系人电话 138 1234 5678 {HUGE}")

    @dg.asset_check(asset=payments, blocking=False)
    def freshness_payments():
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"message": "收款最新更新时间滞后 5 天", "label": "收款最新更新时间不早于允许滞后天数"},
        )

    @dg.asset_check(asset=clients, blocking=True)
    def client_id_unique():
        return dg.AssetCheckResult(
            passed=False,
            metadata={
                "message": "客户编号重复 3 行",
                "label": "客户编号唯一",
                "failing_rows": 3,
                "examples": ["C1", "13812345678", "C9"],
                "details_path": "data/quality/x/data_docs/index.html",
            },
        )

    defs = dg.Definitions(
        assets=[clients, payments],
        asset_checks=[freshness_payments] if fail else [freshness_payments, client_id_unique],
        jobs=[dg.define_asset_job("nightly", executor_def=dg.in_process_executor)],
    )
    result = defs.resolve_job_def("nightly").execute_in_process(
        instance=instance, tags={"opscenter/as_of_date": AS_OF}, raise_on_error=False
    )
    return instance.get_run_by_id(result.run_id)


@pytest.fixture
def alerts(tmp_path, monkeypatch):
    log = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("OPSCENTER_ALERT_LOG", str(log))
    monkeypatch.setenv("OPSCENTER_DAGSTER_URL", "http://dagster.firm.local:3000/")
    monkeypatch.delenv("OPSCENTER_ALERT_URLS", raising=False)
    return lambda: (
        [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    )


def test_every_failed_step_in_one_bounded_masked_alert(alerts):
    instance = dg.DagsterInstance.ephemeral()
    run = _night(instance)
    assert run.status == dg.DagsterRunStatus.FAILURE
    notify_run_failure(instance, run)
    notify_run_failure(instance, instance.get_run_by_id(run.run_id))  # the sensor after the CLI: no 2nd
    [alert] = alerts()
    text = alert["text"]
    assert alert["title"] == "【运营中心·错误】夜间运行失败（2 项）"
    # both bad entities, each with its own root error (not Dagster's wrapper), the first cause first
    assert text.startswith("夜间任务 nightly 未通过，共 2 项失败。首要原因：")
    assert (
        "1. 步骤失败（Failure）· raw__clients：clients/2026-11-20.csv: 表头缺少列 client_id（整文件拒收）"
        in text
    )
    assert "2. 步骤失败（ValueError）· raw__payments：payments/2026-11-20.csv 第 7 行无法解析" in text
    assert "Error occurred while executing" not in text
    assert "138****5678" in text and "1234 5678" not in text  # the raw line's phone is masked
    assert len(text) < 4000 and len(json.dumps(alert, ensure_ascii=False)) < 12_000  # 3 MB field, small alert
    assert "Dagster 运行：http://dagster.firm.local:3000/runs/" + run.run_id in text
    assert f"as_of_date = '{AS_OF}'" in text  # the raw.load_rejects query of the night
    assert f"下一步：修正文件后重跑 `make nightly AS_OF={AS_OF}`" in text
    assert "本次发布已暂停，报表保持上一版本。" in text


def test_blocking_check_with_examples_and_warning_listed(alerts):
    instance = dg.DagsterInstance.ephemeral()
    run = _night(instance, fail=False)
    assert run.status == dg.DagsterRunStatus.FAILURE  # the blocking check failed the run
    notify_run_failure(instance, run)
    [alert] = alerts()
    text = alert["text"]
    assert (
        "1. 客户编号唯一（client_id_unique）· raw/clients：3 行；示例：C1、138****5678、C9；客户编号重复 3 行"
        in text
    )
    assert "预警项：\n1. 收款最新更新时间不早于允许滞后天数（freshness_payments）· raw/payments" in text
    assert "质量报告：data/quality/x/data_docs/index.html" in text


def test_green_night_warnings_summary_once(alerts):
    instance = dg.DagsterInstance.ephemeral()

    @dg.asset(key=["raw", "payments"])
    def payments():
        return None

    @dg.asset_check(asset=payments)
    def freshness_payments():
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"message": "滞后 5 天", "label": "收款新鲜度"},
        )

    defs = dg.Definitions(assets=[payments], asset_checks=[freshness_payments])
    result = defs.get_implicit_global_asset_job_def().execute_in_process(
        instance=instance, tags={"opscenter/as_of_date": AS_OF}
    )
    run = instance.get_run_by_id(result.run_id)
    assert notify_run_warnings(instance, run) is not None
    assert notify_run_warnings(instance, instance.get_run_by_id(run.run_id)) is None  # sensor after CLI
    [alert] = alerts()
    assert (alert["level"], alert["title"]) == ("warning", "【运营中心·警告】原始数据过期")
    assert "本次报表已发布" in alert["text"] and "发布已暂停" not in alert["text"]


TEST_ID = "test.opscenter.relationships_fct_invoices_client_id__client_id__ref_dim_clients_.1a2b"
NODES = {
    TEST_ID: {
        "unique_id": TEST_ID,
        "resource_type": "test",
        "name": "relationships_fct_invoices_client_id",
        "test_metadata": {"name": "relationships"},
        "column_name": "client_id",
        "attached_node": "model.opscenter.fct_invoices",
        "depends_on": {"nodes": ["model.opscenter.dim_clients", "model.opscenter.fct_invoices"]},
    },
    "test.opscenter.unique_fct_invoices_invoice_id.9": {
        "unique_id": "test.opscenter.unique_fct_invoices_invoice_id.9",
        "resource_type": "test",
        "name": "unique_fct_invoices_invoice_id",
        "test_metadata": {"name": "unique"},
        "column_name": "invoice_id",
        "attached_node": "model.opscenter.fct_invoices",
    },
    "test.opscenter.not_null_fct_invoices_client_id.7": {
        "unique_id": "test.opscenter.not_null_fct_invoices_client_id.7",
        "resource_type": "test",
        "name": "not_null_fct_invoices_client_id",
        "test_metadata": {"name": "not_null"},
        "column_name": "client_id",
        "attached_node": "model.opscenter.fct_invoices",
    },
    "model.opscenter.fct_invoices": {
        "relation_name": '"w"."core"."fct_invoices"',
        "columns": {"invoice_id": {}, "client_id": {}},
    },
}
# what dbt compiles the relationships test to: the unknown client ids, not the invoices
ORPHANS_SQL = """with child as (select client_id as from_field from "w"."core"."fct_invoices"
where client_id is not null), parent as (select client_id as to_field from "w"."core"."dim_clients")
select from_field from child left join parent on child.from_field = parent.to_field
where parent.to_field is null"""


# dbt's own compiled SQL of the other two generic tests
NULLS_SQL = 'select client_id from "w"."core"."fct_invoices" where client_id is null -- ends in a comment'
DUPLICATES_SQL = """select invoice_id as unique_field, count(*) as n_records from "w"."core"."fct_invoices"
where invoice_id is not null group by invoice_id having count(*) > 1"""


def _dbt_night(tmp_path: Path, run_id: str) -> tuple[Path, Path]:
    """A night's dbt target folder with one failed relationships test and one failed model, and a
    warehouse holding two orphan invoices (one of a phone-shaped client id) among good ones."""
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema core")
        conn.execute("create table core.dim_clients as select * from (values ('C1'), ('C2')) t(client_id)")
        conn.execute(
            "create table core.fct_invoices as select * from (values ('AR1', 'C1'), ('AR2', 'C404'), "
            "('AR3', 'C2'), ('AR4', '13812345678'), ('AR3', 'C1'), ('AR5', NULL)) t(invoice_id, client_id)"
        )
    folder = tmp_path / "nights" / run_id
    folder.mkdir(parents=True)
    results = [
        {"unique_id": "model.opscenter.dim_clients", "status": "success", "message": "OK"},
        {"unique_id": TEST_ID, "status": "fail", "failures": 2, "compiled_code": ORPHANS_SQL,
         "message": "Got 2 results, configured to fail if != 0"},
        {"unique_id": "model.opscenter.mart_ar", "status": "error", "message": "Binder Error: x"},
        {"unique_id": "test.opscenter.not_null_fct_invoices_client_id.7", "status": "fail", "failures": 1,
         "compiled_code": NULLS_SQL, "message": "Got 1 result, configured to fail if != 0"},
        {"unique_id": "test.opscenter.unique_fct_invoices_invoice_id.9", "status": "warn", "failures": 1,
         "compiled_code": DUPLICATES_SQL, "message": "Got 1 result, configured to warn if != 0"},
    ]  # fmt: skip
    (folder / "run_results.json").write_text(json.dumps({"results": results}))
    (folder / "manifest.json").write_text(json.dumps({"nodes": NODES}))
    return folder, warehouse


def test_dbt_failures_name_test_model_rows_and_example_keys(tmp_path: Path):
    folder, warehouse = _dbt_night(tmp_path, "abc1234-zzzz")
    record_failures(folder, warehouse, tmp_path / "quality" / "dbt_tests")
    failures = dbt_failures("abc1234-zzzz", tmp_path / "nights")
    assert [(f.line(), f.blocking) for f in failures] == [
        ("dbt 测试：非空（not_null_fct_invoices_client_id）· fct_invoices：1 行；"
         "示例：invoice_id=AR5（client_id=NULL）；Got 1 result, configured to fail if != 0", True),
        ("dbt 测试：引用完整（外键）（relationships_fct_invoices_client_id）· fct_invoices、dim_clients："
         "2 行；示例：invoice_id=AR2（client_id=C404）、invoice_id=AR4（client_id=138****5678）；"
         "Got 2 results, configured to fail if != 0", True),
        ("dbt 模型构建失败（mart_ar）· mart_ar：Binder Error: x", True),
        ("dbt 测试：唯一（unique_fct_invoices_invoice_id）· fct_invoices：1 行；示例：invoice_id=AR3；"
         "Got 1 result, configured to warn if != 0", False),  # a warn test: listed with the warnings
    ]  # fmt: skip
    assert dbt_failures("fffffff-other", tmp_path / "nights") == []  # another run's folder is not read
    report = (tmp_path / "quality" / "dbt_tests" / "index.html").read_text(encoding="utf-8")
    assert "invoice_id=AR2（client_id=C404）" in report and "13812345678" not in report
    # a later dbt invocation of the same night (its run_results.json replaced) adds, never forgets
    (folder / "run_results.json").write_text(json.dumps({"results": []}))
    record_failures(folder, warehouse)
    assert len(dbt_failures("abc1234-zzzz", tmp_path / "nights")) == 4
    assert report_path(folder) == str(tmp_path / "quality" / "dbt_tests" / "index.html")


def test_dbt_failure_without_recorded_examples_still_named(tmp_path: Path):
    """The dbt step died before recording (no dbt_failures.json): run_results.json still names them."""
    _dbt_night(tmp_path, "abc1234-zzzz")
    [_, test, model, _] = dbt_failures("abc1234-zzzz", tmp_path / "nights")
    assert (test.name_en, test.where, test.count, test.examples) == (
        "relationships_fct_invoices_client_id",
        "fct_invoices、dim_clients",
        2,
        [],
    )
    assert model.name_zh == "dbt 模型构建失败"


def test_a_column_set_test_shows_every_listed_column_of_its_examples(tmp_path: Path):
    """unique_column_set (dbt_project/tests/generic) returns the duplicated column values: the
    examples name each listed column, not only the first."""
    from orchestration.quality.dbt_tests import example_keys, node_label

    node = {
        "unique_id": "test.opscenter.unique_column_set_int_x_cutoff_date__payment_id.3",
        "resource_type": "test",
        "name": "unique_column_set_int_x_cutoff_date__payment_id",
        "test_metadata": {"name": "unique_column_set", "kwargs": {"columns": ["cutoff_date", "payment_id"]}},
        "attached_node": "model.opscenter.int_x",
    }
    nodes = {node["unique_id"]: node, "model.opscenter.int_x": {"relation_name": "x", "columns": {}}}
    sql = """select cutoff_date, payment_id, count(*) as n_records from (values
        ('2026-01-31', 'P1'), ('2026-01-31', 'P1'), ('2026-02-28', 'P1'), ('2026-02-28', '13812345678'),
        ('2026-02-28', '13812345678')) t(cutoff_date, payment_id) group by all having count(*) > 1"""
    with duckdb.connect() as conn:
        assert example_keys(conn, sql, node, nodes) == [
            "cutoff_date=2026-01-31（payment_id=P1）",
            "cutoff_date=2026-02-28（payment_id=138****5678）",
        ]
    assert node_label(node, node["unique_id"])[0] == "dbt 测试：列组合唯一"
