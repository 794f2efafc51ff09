"""dbt docs at publication: dbt generates the page once per project state, each night writes it with its
own date (orchestration/render/dbt_docs.py).

dbt throws its parse state away when `--vars` or the profile's connection values change; the docs
run passes the date in the environment and always uses an in-memory DuckDB, and keeps its own parse
state, so a later run must not parse again (dbt says so in its log). The kept page, compiled for a
stand-in date, must be dbt's own page for the night's date once that date is put in: the second night
below runs no dbt at all, and its page equals the one dbt generates for its date (on the saved parse
state) in everything but dbt's generated_at, invocation_id, parse times and temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from orchestration import settings
from orchestration.render.dbt_docs import (
    DATE_STANDIN,
    DOCS_PARSE_STATE,
    KEPT_PAGE,
    DbtDocsError,
    docs_key,
    generate_page,
    write_dbt_docs,
)

FULL_PARSE = re.compile(r"Unable to do partial parsing|Partial parse save file not found|Starting full parse")
VOLATILE = {"generated_at", "invocation_id", "created_at", "invocation_started_at"}


def _project(tmp_path):
    project = tmp_path / "dbt_project"  # a copy: the test's parse state never touches the real target/
    shutil.copytree(
        settings.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs")
    )
    return project


def _embedded(page: str) -> dict:
    """The manifest and catalog dbt inlines into the static page, without the values of the moment
    and of the run's temporary folder."""

    def strip(value):
        if isinstance(value, dict):
            out = {k: strip(v) for k, v in value.items() if k not in VOLATILE}
            if out.get("compiled_path"):  # under dbt's temporary target folder: from target/ on
                out["compiled_path"] = out["compiled_path"].split("/target/", 1)[1]
            return out
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    decoder = json.JSONDecoder()  # dbt's app: `{manifest:{...},catalog:{...}}`
    manifest, end = decoder.raw_decode(page, page.index("{manifest:") + len("{manifest:"))
    assert page.startswith(",catalog:", end)
    catalog, _ = decoder.raw_decode(page, end + len(",catalog:"))
    assert manifest["nodes"] and "nodes" in catalog
    return strip({"manifest": manifest, "catalog": catalog})


def test_the_kept_page_is_dbts_page_for_each_night_and_dbt_never_parses_twice(tmp_path):
    project = _project(tmp_path)
    (project / "target").mkdir()
    first = write_dbt_docs(tmp_path / "d1", "2026-11-20", project, log_dir=tmp_path / "log1")
    assert (project / "target" / DOCS_PARSE_STATE).is_file()
    assert FULL_PARSE.search((tmp_path / "log1" / "dbt.log").read_text(encoding="utf-8"))  # nothing saved yet
    [kept] = (project / "target").glob(KEPT_PAGE.format(key="*"))
    assert kept.name == KEPT_PAGE.format(key=docs_key(project))
    assert f"'{DATE_STANDIN}'" in kept.read_text(encoding="utf-8")

    second = write_dbt_docs(tmp_path / "d2", "2026-11-21", project, log_dir=tmp_path / "log2")
    assert not (tmp_path / "log2").exists()  # the kept page: dbt did not run
    page1, page2 = (p.read_text(encoding="utf-8") for p in (first, second))
    assert "'2026-11-20'" in page1 and "'2026-11-21'" not in page1
    assert "'2026-11-21'" in page2 and "'2026-11-20'" not in page2 and DATE_STANDIN not in page2
    assert str(settings.warehouse_path()) not in page2  # never the warehouse

    # dbt's own page for the second night's date, on the saved parse state: not parsed again
    direct = generate_page(project, "2026-11-21", tmp_path / "direct", log_dir=tmp_path / "log3")
    log = (tmp_path / "log3" / "dbt.log").read_text(encoding="utf-8")
    assert not FULL_PARSE.search(log), [line for line in log.splitlines() if FULL_PARSE.search(line)]
    ours, dbts = _embedded(page2), _embedded(direct.read_text(encoding="utf-8"))
    compiled = [
        n for n in dbts["manifest"]["nodes"].values() if "'2026-11-21'" in (n.get("compiled_code") or "")
    ]
    assert len(compiled) > 20  # the date is in the compiled SQL of many models (and their tests)
    assert ours == dbts


def test_the_kept_page_follows_the_project_and_refuses_a_bad_date(tmp_path, monkeypatch):
    """docs_key: another page when a model or an environment variable the project reads changes; not for
    dbt's target/ and logs/, nor for the variables write_dbt_docs sets itself (no dbt run here)."""
    project = _project(tmp_path)
    key = docs_key(project)
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    (project / "logs").mkdir()
    (project / "logs" / "dbt.log").write_text("x")
    assert docs_key(project) == key
    threads = os.environ.get("OPSCENTER_DBT_THREADS")  # tests/conftest.py sets it
    monkeypatch.setenv("OPSCENTER_DBT_THREADS", "7")  # read by profiles.yml
    assert docs_key(project) != key
    if threads is None:
        monkeypatch.delenv("OPSCENTER_DBT_THREADS")
    else:
        monkeypatch.setenv("OPSCENTER_DBT_THREADS", threads)
    monkeypatch.setenv("OPSCENTER_WAREHOUSE", "/elsewhere.duckdb")  # the docs run's is always :memory:
    monkeypatch.setenv("DBT_AS_OF_DATE", "2020-01-01")  # the date is put into the page
    assert docs_key(project) == key
    model = sorted((project / "models" / "marts").rglob("mart_*.sql"))[0]
    model.write_text(model.read_text() + "\n-- a comment shows in the page's source\n")
    assert docs_key(project) != key
    (project / "models" / "x.sql").write_text(f"select cast('{DATE_STANDIN}' as date) as d\n")
    with pytest.raises(DbtDocsError, match="stand-in date"):
        docs_key(project)
    with pytest.raises(DbtDocsError, match="YYYY-MM-DD"):
        write_dbt_docs(tmp_path / "d", "2026-13-01", project)
