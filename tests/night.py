"""One real nightly run for the session: the whole job, in process, on a small generated firm
(40 clients, 6 months, as of 2026-11-20), published to a temporary folder. The end-to-end tests and
the report-page tests read the same night instead of each running the ~1.5-minute job again.

The OPSCENTER_* environment (dbt runs as a subprocess and finds the warehouse through it, as in
production) is set only while a job runs: `night["env"]()` for a test that runs the job again.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import dagster as dg
import pytest

from orchestration.demo import generate
from orchestration.resources import LandingZoneResource, WarehouseResource
from orchestration.run_config import AS_OF_TAG

AS_OF = dt.date(2026, 11, 20)


@pytest.fixture(scope="session")
def night(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    raw_dir, warehouse = root / "raw", root / "warehouse.duckdb"
    summary = generate(raw_dir, AS_OF, seed=11, clients=40, months=6)

    @contextlib.contextmanager
    def env():
        mp = pytest.MonkeyPatch()
        mp.setenv("OPSCENTER_WAREHOUSE", str(warehouse))
        mp.setenv("OPSCENTER_RAW_DIR", str(raw_dir))
        mp.setenv("OPSCENTER_PUBLISH_DIR", str(root / "published"))
        mp.setenv("OPSCENTER_QUALITY_DIR", str(root / "quality"))
        mp.setenv("OPSCENTER_ALERT_LOG", str(root / "alerts.jsonl"))
        mp.setenv("OPSCENTER_DIGEST_LOG", str(root / "digests.jsonl"))
        try:
            yield
        finally:
            mp.undo()

    def run():
        from orchestration.definitions import build_definitions

        with env():
            defs = build_definitions(
                {
                    "warehouse": WarehouseResource(path=str(warehouse)),
                    "landing_zone": LandingZoneResource(path=str(raw_dir), settle_seconds=0),
                }
            )
            job = defs.resolve_job_def("nightly")
            tags = {AS_OF_TAG: AS_OF.isoformat()}
            return job.execute_in_process(
                instance=dg.DagsterInstance.ephemeral(), tags=tags, raise_on_error=False
            )

    yield {
        "root": root,
        "raw": raw_dir,
        "warehouse": warehouse,
        "summary": summary,
        "result": run(),
        "rerun": run,
        "env": env,
    }
