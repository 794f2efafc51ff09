"""The Dagster `reports/published` asset: runs after a green gate, records the run's checks, renders
pages through the hook, and is held back (nothing published) when a blocking check fails."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.assets.publish import PUBLISH_KEY, PublishResource, RenderContext, build_publish_asset
from orchestration.night_guard import NightGuardResource
from orchestration.publish import current_version
from orchestration.resources import WarehouseResource
from tests.test_publish import AS_OF, make_warehouse

MART = dg.AssetKey(["marts", "mart_client_overview"])


def _mart_with_check(passes: bool) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    @dg.asset(key=MART)
    def mart() -> None:
        return None

    @dg.asset_check(asset=MART, name="client_id_unique", blocking=True)
    def client_id_unique() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            passed=passes,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"message": "客户编号唯一" if passes else "客户编号重复 2 行"},
        )

    return mart, client_id_unique


def _render(snapshot: Path, out_dir: Path, context) -> None:
    con = duckdb.connect(str(snapshot), read_only=True)
    n = con.execute("SELECT count(*) FROM marts.mart_client_overview").fetchone()[0]
    con.close()
    page = f"<h1>客户数 {n}</h1><p>{context.as_of_date} {context.run_id} {context.quality_status}</p>"
    (out_dir / "index.html").write_text(page, encoding="utf-8")


def _run(tmp_path: Path, passes: bool) -> tuple[dg.ExecuteInProcessResult, Path]:
    warehouse = make_warehouse(tmp_path / "warehouse.duckdb")
    root = tmp_path / "published"
    mart, check = _mart_with_check(passes)
    publish = build_publish_asset(deps=[MART], render=_render)
    result = dg.materialize(
        [mart, check, publish],
        resources={
            "warehouse": WarehouseResource(path=str(warehouse)),
            "publisher": PublishResource(publish_root=str(root), keep=3),
            "night": NightGuardResource(warehouse=str(warehouse), publish_root=str(root)),
        },
        run_config={"ops": {"reports__published": {"config": {"as_of_date": AS_OF}}}},
        raise_on_error=False,
    )
    return result, root


def test_publish_asset_after_green_gate(tmp_path: Path):
    result, root = _run(tmp_path, passes=True)
    assert result.success
    version = f"{AS_OF}_{result.run_id}"
    assert current_version(root) == version
    manifest = json.loads((root / version / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == result.run_id and manifest["as_of_date"] == AS_OF
    assert manifest["checks"] == [
        {
            "name": "marts/mart_client_overview:client_id_unique",
            "severity": "error",
            "status": "passed",
            "message": "客户编号唯一",
            "asset": "marts/mart_client_overview",
            "check": "client_id_unique",
        }
    ]
    assert manifest["pages"] == ["pages/index.html"]
    page = (root / version / "pages" / "index.html").read_text(encoding="utf-8")
    assert f"<h1>客户数 3</h1><p>{AS_OF} {result.run_id} 通过</p>" == page

    materialization = result.asset_materializations_for_node("reports__published")[0]
    assert materialization.asset_key == PUBLISH_KEY
    meta = materialization.metadata
    assert meta["version"].value == version
    assert meta["rows"].value == 3 + 2 + 1 + 1 + 1
    assert meta["tables"].value["marts.mart_collections_monthly"] == 2
    assert meta["path"].value == str(root / version / "snapshot.duckdb")


def test_blocking_check_failure_holds_back_publication(tmp_path: Path):
    result, root = _run(tmp_path, passes=False)
    assert not result.success
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == "client_id_unique" and not evaluation.passed
    # publish_run never started: no version, no `current` (the night guard only checked it is writable)
    assert list(root.iterdir()) == []
    assert result.asset_materializations_for_node("reports__published") == []


def test_render_context_quality_status():
    ok = {"name": "a", "severity": "error", "status": "passed", "message": ""}
    warned = {"name": "b", "severity": "warn", "status": "failed", "message": "量级偏低"}
    assert RenderContext(AS_OF, "r", [ok]).quality_status == "通过"
    assert RenderContext(AS_OF, "r", [ok, warned, warned]).quality_status == "通过（2 项预警）"
    assert RenderContext(AS_OF, "r", []).page_context() == {
        "as_of_date": AS_OF,
        "run_id": "r",
        "quality_status": "无检查记录",
    }
