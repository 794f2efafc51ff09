"""dbt docs for each published version: `dbt docs generate --static`, one self-contained HTML file.

The page shows every model, column description (English name, Chinese label, formula), test and the
lineage graph, from the dbt project's yml. It is generated with an empty catalog against a throwaway
DuckDB file, so it never opens the warehouse (which the night may still hold) and reads no data:
column types come from the marts' enforced contracts in the yml. Anonymous usage tracking is off, so
the page makes no request to the internet (the publish scan and the browser test check this).

Hook for the publisher (ops): `write_dbt_docs(version_pages_dir / "dbt-docs", as_of_date)` before the
pages are rendered; the 数据质量 page links to /dbt-docs/index.html.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from orchestration import settings

DOCS_DIR = "dbt-docs"


class DbtDocsError(RuntimeError):
    """dbt docs generate failed; the message holds the end of dbt's output."""


def write_dbt_docs(out_dir: Path, as_of_date: str, project_dir: Path | None = None) -> Path:
    """Write `out_dir/index.html` (dbt's static docs page). Returns the file."""
    project_dir = Path(project_dir or settings.DBT_PROJECT_DIR)
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="dbt-docs-") as tmp:
        target = Path(tmp) / "target"
        env = os.environ | {
            "OPSCENTER_WAREHOUSE": str(Path(tmp) / "empty.duckdb"),  # never the warehouse
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_PARTIAL_PARSE": "true",
        }
        partial = project_dir / "target" / "partial_parse.msgpack"
        if partial.is_file():  # reuse the night's parse
            target.mkdir()
            shutil.copyfile(partial, target / "partial_parse.msgpack")
        dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"
        cmd = [dbt, "docs", "generate", "--static", "--empty-catalog", "--project-dir", str(project_dir)]
        cmd += ["--profiles-dir", str(project_dir), "--target-path", str(target), "--log-path", tmp]
        cmd += ["--vars", json.dumps({"as_of_date": as_of_date}), "--quiet"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
        page = target / "static_index.html"
        if proc.returncode != 0 or not page.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise DbtDocsError(f"dbt docs generate failed ({proc.returncode}):\n{tail}")
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, out_dir / "index.html")
    return out_dir / "index.html"
