"""The dbt-backed tests run each dbt command on a manifest parsed once (tests/dbt_helpers.py): sound only
while a parse does not depend on the run date or the warehouse's folder, and while a run on that
manifest computes for its own date and a changed project is parsed again. Checked here."""

from __future__ import annotations

import datetime as dt
import json
import shutil

from tests import dbt_helpers as h


def _parse(tmp, as_of):
    """manifest.json of a plain `dbt parse` (no reuse) for `as_of`, minus what every parse stamps."""
    h.run_dbt(["parse"], tmp / "warehouse.duckdb", as_of, tmp / "target")
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    del manifest["metadata"]

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "created_at"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(manifest)


def test_parse_is_the_same_for_any_run_date_and_folder(tmp_path):
    first = _parse(tmp_path / "a", "2026-03-31")
    second = _parse(tmp_path / "b", "2013-01-01")
    assert len(first["nodes"]) > 100  # the whole project, not an empty parse
    assert first == second


def test_a_run_on_the_parsed_manifest_computes_for_its_own_date(tmp_path):
    """The manifest is parsed for 2000-01-01; each run's cutoffs follow its own as_of_date."""
    assert h.parsed_manifest("warehouse").exists()
    for as_of, previous_month_end in (("2026-03-20", "2026-02-28"), ("2024-07-01", "2024-06-30")):
        path = tmp_path / as_of / "warehouse.duckdb"
        h.run_dbt(["run", "--select", "int_cutoff_dates"], path, as_of, tmp_path / as_of / "target")
        rows = h.query(path, "select cutoff_date, is_as_of_date from intermediate.int_cutoff_dates"
                             " order by cutoff_date desc limit 2")  # fmt: skip
        day = dt.date.fromisoformat
        assert rows == [(day(as_of), True), (day(previous_month_end), False)]


def test_a_changed_project_file_is_parsed_again(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(h.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    key = h.parse_key("warehouse", project)
    assert h.parse_key("warehouse", project) == key
    assert h.parse_key("other", project) != key  # the database name is in every relation name
    (project / "target").mkdir()
    (project / "target" / "run_results.json").write_text("{}")  # artifacts are not inputs
    assert h.parse_key("warehouse", project) == key
    model = next(project.rglob("int_cutoff_dates.sql"))
    model.write_text(model.read_text() + "\n-- changed\n")
    assert h.parse_key("warehouse", project) != key
