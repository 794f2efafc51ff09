"""A night re-parses the dbt project when the manifest Dagster would load is older than the project."""

import os
from pathlib import Path

from orchestration.dbt_manifest import ensure_fresh_manifest, stale_inputs
from orchestration.settings import DBT_PROJECT_DIR


def _project(tmp_path: Path) -> tuple[Path, Path]:
    project = tmp_path / "dbt_project"
    (project / "models" / "marts").mkdir(parents=True)
    (project / "macros").mkdir()
    (project / "dbt_project.yml").write_text("name: p\n")
    (project / "models" / "marts" / "mart_a.sql").write_text("select 1 as a\n")
    (project / "macros" / "m.sql").write_text("{% macro m() %}1{% endmacro %}\n")
    manifest = project / "target" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text("{}")
    _age(project, 100)  # every project file written well before the parse
    os.utime(manifest, (1_000_000, 1_000_000))
    return project, manifest


def _age(project: Path, seconds: int) -> None:
    for path in [project, *project.rglob("*")]:
        if "target" not in path.parts:
            os.utime(path, (1_000_000 - seconds, 1_000_000 - seconds))


def _touch(path: Path, at: int = 1_000_050) -> None:
    os.utime(path, (at, at))


def test_fresh_manifest_is_kept(tmp_path):
    project, manifest = _project(tmp_path)
    parsed = []
    assert stale_inputs(project, manifest) == []
    assert ensure_fresh_manifest(project, parse=parsed.append) is False
    assert parsed == []


def test_changed_added_or_removed_files_make_it_stale(tmp_path):
    project, manifest = _project(tmp_path)
    model = project / "models" / "marts" / "mart_a.sql"
    _touch(model)  # an edited model (git pull)
    assert stale_inputs(project, manifest) == [model]

    project, manifest = _project(tmp_path / "removed")
    (project / "models" / "marts" / "mart_a.sql").unlink()  # a deleted model: only its folder's mtime moves
    assert stale_inputs(project, manifest) == [project / "models" / "marts"]

    project, manifest = _project(tmp_path / "vars")
    _touch(project / "dbt_project.yml")  # a changed var
    assert stale_inputs(project, manifest) == [project / "dbt_project.yml"]

    project, manifest = _project(tmp_path / "target_only")
    (project / "target" / "run_results.json").write_text("{}")  # dbt's own output is not an input
    (project / "logs").mkdir()
    (project / "logs" / "dbt.log").write_text("x")
    assert stale_inputs(project, manifest) == []


def test_stale_or_missing_manifest_is_parsed_once(tmp_path):
    project, manifest = _project(tmp_path)
    _touch(project / "macros" / "m.sql")
    parsed = []

    def parse(project_dir: Path) -> None:  # what `dbt parse` leaves behind: a newer manifest
        parsed.append(project_dir)
        manifest.write_text('{"nodes": {}}')

    assert ensure_fresh_manifest(project, parse=parse) is True
    assert ensure_fresh_manifest(project, parse=parse) is False  # the second process finds it fresh
    assert parsed == [project]

    manifest.unlink()
    assert stale_inputs(project, manifest) == [manifest]
    assert ensure_fresh_manifest(project, parse=parse) is True
    assert parsed == [project, project]


def test_the_repository_manifest_is_fresh():
    """`make setup` parsed, and importing the definitions would have: nothing in the project is newer."""
    import orchestration.assets.dbt  # noqa: F401 - the import runs the check

    assert stale_inputs(DBT_PROJECT_DIR, DBT_PROJECT_DIR / "target" / "manifest.json") == []
