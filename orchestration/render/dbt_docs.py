"""dbt docs for each published version: `dbt docs generate --static`, one self-contained HTML file.

The page shows every model, column description (English name, Chinese label, formula), test and the
lineage graph, from the dbt project's yml. It is generated with an empty catalog against an in-memory
DuckDB database, so it never opens the warehouse (which the night may still hold) and reads no data:
column types come from the marts' enforced contracts in the yml. Anonymous usage tracking is off, so
the page makes no request to the internet (the publish scan and the browser test check this).

Hook for the publisher (ops): `write_dbt_docs(version_pages_dir / "dbt-docs", as_of_date)` before the
pages are rendered; the 数据质量 page links to /dbt-docs/index.html.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from orchestration import settings

DOCS_DIR = "dbt-docs"
DOCS_PARSE_STATE = "docs_partial_parse.msgpack"  # under the dbt project's target/


class DbtDocsError(RuntimeError):
    """dbt docs generate failed; the message holds the end of dbt's output."""


def write_dbt_docs(
    out_dir: Path, as_of_date: str, project_dir: Path | None = None, *, log_dir: Path | None = None
) -> Path:
    """Write `out_dir/index.html` (dbt's static docs page). Returns the file.

    dbt re-parses the whole project (~30 s of CPU at 700 nodes) whenever its `--vars` or its profile's
    connection values differ from those its saved parse state was made with. So the date reaches dbt
    as `DBT_AS_OF_DATE` (macros/as_of.sql), never as a var, the warehouse is always the same in-memory
    database (nothing to open, no lock, the same profile every night), and the parse state of the last
    docs run is kept in `target/docs_partial_parse.msgpack`: a night whose dbt project did not change
    parses nothing (dbt checks the files' hashes itself). `log_dir`: keep dbt's log there."""
    project_dir = Path(project_dir or settings.DBT_PROJECT_DIR)
    out_dir = Path(out_dir)
    saved = project_dir / "target" / DOCS_PARSE_STATE
    with tempfile.TemporaryDirectory(prefix="dbt-docs-") as tmp:
        target = Path(tmp) / "target"
        target.mkdir()
        env = os.environ | {
            "OPSCENTER_WAREHOUSE": ":memory:",  # never the warehouse
            "DBT_AS_OF_DATE": as_of_date,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_PARTIAL_PARSE": "true",
        }
        if saved.is_file():  # a concurrent docs run may replace it: each run works on its own copy
            shutil.copyfile(saved, target / "partial_parse.msgpack")
        dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"
        cmd = [dbt, "docs", "generate", "--static", "--empty-catalog", "--project-dir", str(project_dir)]
        cmd += ["--profiles-dir", str(project_dir), "--target-path", str(target)]
        cmd += ["--log-path", str(log_dir or tmp)]
        cmd += ["--quiet"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
        page = target / "static_index.html"
        if proc.returncode != 0 or not page.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise DbtDocsError(f"dbt docs generate failed ({proc.returncode}):\n{tail}")
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, out_dir / "index.html")
        _keep_parse_state(target / "partial_parse.msgpack", saved)
    return out_dir / "index.html"


def _keep_parse_state(state: Path, saved: Path) -> None:
    """Save this run's parse state for the next docs run (temp file + rename: never half-written)."""
    if not state.is_file() or not saved.parent.is_dir():
        return
    tmp = saved.with_name(f".{saved.name}.tmp-{os.getpid()}")
    shutil.copyfile(state, tmp)
    os.replace(tmp, saved)
