"""The dbt manifest Dagster loads must describe the project as it is on disk.

Dagster builds the dbt assets from `dbt_project/target/manifest.json`, and the night's upgrade decision
(orchestration/code_state.py) hashes the incremental models' code from the same file. `make setup`
(and so `make nightly`, `make dev`, `make test`) re-parses first, but a night started directly
(`python -m orchestration.cli nightly` from cron, the benchmark) after a `git pull` would otherwise load
the previous parse: dbt itself would run the new SQL (each invocation re-parses the changed files), while
the code states recorded in the warehouse would be the old code's, so the next night's upgrade decision
compares against a state the tables were not built with (a changed upstream model missed: stale rows
kept; or one needless full refresh). So, before the definitions load the manifest, a project file newer
than the manifest (or a folder whose entries changed: a deleted model) makes the process parse the
project once, under a lock (parallel processes, e.g. test workers, parse once).
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from orchestration import settings

log = logging.getLogger(__name__)

# what `dbt parse` reads: the project's own files (not target/, logs/, dbt_packages/)
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml", "dependencies.yml")
PROJECT_FOLDERS = ("models", "macros", "tests", "seeds", "snapshots", "analyses")


def _project_paths(project_dir: Path) -> Iterator[Path]:
    for name in PROJECT_FILES:
        if (path := project_dir / name).exists():
            yield path
    for name in PROJECT_FOLDERS:
        folder = project_dir / name
        if not folder.is_dir():
            continue
        yield folder
        for root, dirs, files in os.walk(folder):
            for d in dirs:  # a folder's mtime moves when an entry is added, removed or renamed
                yield Path(root, d)
            for f in files:
                yield Path(root, f)


def stale_inputs(project_dir: Path, manifest: Path) -> list[Path]:
    """Project files and folders modified after `manifest` was written (all of them without one)."""
    try:
        built = manifest.stat().st_mtime_ns
    except FileNotFoundError:
        return [manifest]
    return [p for p in _project_paths(project_dir) if p.stat().st_mtime_ns > built]


def parse_project(project_dir: Path) -> None:
    """`dbt parse` of the project, as `make dbt-parse` runs it (the warehouse path from the environment,
    else the default one: the profile reads it; parsing does not open the file)."""
    env = {**os.environ, "OPSCENTER_WAREHOUSE": str(settings.warehouse_path())}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run(
        [str(dbt), "parse", "--profiles-dir", ".", "--quiet"], cwd=project_dir, env=env, check=True
    )  # fmt: skip


def ensure_fresh_manifest(
    project_dir: Path = settings.DBT_PROJECT_DIR,
    parse: Callable[[Path], None] = parse_project,
) -> bool:
    """Re-parse the project when its manifest is older than its files; True when it parsed."""
    manifest = project_dir / "target" / "manifest.json"
    if not stale_inputs(project_dir, manifest):
        return False
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be parsing: wait, then look again
        stale = stale_inputs(project_dir, manifest)
        if not stale:
            return False
        shown = ", ".join(os.path.relpath(p, project_dir) for p in stale[:5])
        log.warning("dbt manifest older than %d project file(s) (%s): parsing the project", len(stale), shown)
        parse(project_dir)
    return True
