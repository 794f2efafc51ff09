"""dbt docs at publication: one real `dbt docs generate` per night, without re-parsing the project.

dbt throws its parse state away when `--vars` or the profile's connection values change; the docs
run passes the date in the environment and always uses an in-memory DuckDB, and keeps its own parse
state, so the second night's run must not parse again (dbt says so in its log) while its page still
shows that night's date in the compiled SQL.
"""

from __future__ import annotations

import re
import shutil

from orchestration import settings
from orchestration.render.dbt_docs import DOCS_PARSE_STATE, write_dbt_docs

FULL_PARSE = re.compile(r"Unable to do partial parsing|Partial parse save file not found|Starting full parse")


def test_second_night_reuses_the_docs_parse_and_shows_its_own_date(tmp_path):
    project = tmp_path / "dbt_project"  # a copy: the test's parse state never touches the real target/
    shutil.copytree(
        settings.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs")
    )
    (project / "target").mkdir()
    first = write_dbt_docs(tmp_path / "d1", "2026-11-20", project, log_dir=tmp_path / "log1")
    assert (project / "target" / DOCS_PARSE_STATE).is_file()
    assert FULL_PARSE.search((tmp_path / "log1" / "dbt.log").read_text(encoding="utf-8"))  # nothing saved yet
    second = write_dbt_docs(tmp_path / "d2", "2026-11-21", project, log_dir=tmp_path / "log2")
    log = (tmp_path / "log2" / "dbt.log").read_text(encoding="utf-8")
    assert not FULL_PARSE.search(log), [line for line in log.splitlines() if FULL_PARSE.search(line)]
    page1, page2 = (p.read_text(encoding="utf-8") for p in (first, second))
    assert "'2026-11-20'" in page1 and "'2026-11-21'" not in page1
    assert "'2026-11-21'" in page2 and "'2026-11-20'" not in page2
    assert str(settings.warehouse_path()) not in page2  # never the warehouse
