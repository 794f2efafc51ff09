"""dbt docs for each published version: `dbt docs generate --static`, one self-contained HTML file.

The page shows every model, column description (English name, Chinese label, formula), test and the
lineage graph, from the dbt project's yml. It is generated with an empty catalog against an in-memory
DuckDB database, so it never opens the warehouse (which the night may still hold) and reads no data:
column types come from the marts' enforced contracts in the yml. Anonymous usage tracking is off, so
the page makes no request to the internet (the publish scan and the browser test check this).

The page depends on the project and on the night's date only (the date is in the compiled SQL, where
`as_of()` puts it). So dbt generates it once per project state, compiled for a stand-in date
(DATE_STANDIN), and keeps it in the project's target/ (`docs_page-<key>.html`, key: docs_key); each
night writes the kept page with its own date in place of the stand-in: ~13.5 CPU s of dbt (start-up,
compiling 100 models and 355 tests) saved on every night whose project did not change.
tests/test_publish_dbt_docs.py checks that the page written so equals the page dbt generates for that
date (but for dbt's generated_at, invocation_id and parse times).

Hook for the publisher (ops): `write_dbt_docs(version_pages_dir / "dbt-docs", as_of_date)` before the
pages are rendered; the 数据质量 page links to /dbt-docs/index.html.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from orchestration import settings

DOCS_DIR = "dbt-docs"
DOCS_PARSE_STATE = "docs_partial_parse.msgpack"  # under the dbt project's target/
KEPT_PAGE = "docs_page-{key}.html"  # under the dbt project's target/: the page of one project state
# The date the kept page is compiled for: a valid date no model, macro or dbt page text contains
# (write_dbt_docs checks the project's files), replaced by each night's date.
DATE_STANDIN = "1901-02-03"
# what the page depends on besides the project's files
_PACKAGES = ("dbt-core", "dbt-duckdb", "dbt-adapters")
# set by write_dbt_docs for every run: not part of the key
_FIXED_ENV = ("OPSCENTER_WAREHOUSE", "DBT_AS_OF_DATE")
_ENV_VAR = re.compile(r"""env_var\(\s*['"]([A-Za-z0-9_]+)['"]""")


class DbtDocsError(RuntimeError):
    """dbt docs generate failed; the message holds the end of dbt's output."""


def write_dbt_docs(
    out_dir: Path, as_of_date: str, project_dir: Path | None = None, *, log_dir: Path | None = None
) -> Path:
    """Write `out_dir/index.html` (dbt's static docs page for `as_of_date`). Returns the file.

    The page kept for the project's current state (docs_key) with the date put in, or, when there is
    none yet, dbt's page generated now (generate_page, for DATE_STANDIN) and kept for the next nights.
    `log_dir`: keep dbt's log there (when dbt runs)."""
    project_dir = Path(project_dir or settings.DBT_PROJECT_DIR)
    if not _is_date(as_of_date):  # as macros/as_of.sql would have refused it
        raise DbtDocsError(f"as_of_date must be YYYY-MM-DD, got {as_of_date!r}")
    key = docs_key(project_dir)
    kept = project_dir / "target" / KEPT_PAGE.format(key=key)
    try:
        page = kept.read_text(encoding="utf-8")
    except FileNotFoundError:
        with tempfile.TemporaryDirectory(prefix="dbt-docs-page-") as tmp:
            page = generate_page(project_dir, DATE_STANDIN, Path(tmp), log_dir=log_dir).read_text(
                encoding="utf-8"
            )
        _keep_page(page, kept)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "index.html").write_text(page.replace(DATE_STANDIN, as_of_date), encoding="utf-8")
    return out_dir / "index.html"


def _is_date(value) -> bool:
    try:
        return bool(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)) and bool(dt.date.fromisoformat(value))
    except (TypeError, ValueError):
        return False


def docs_key(project_dir: Path) -> str:
    """A hash of what the docs page is made of: the project's files (not target/ or logs/), dbt's and
    its adapter's versions and the environment variables the project reads (but those write_dbt_docs
    sets). Raises DbtDocsError when a file holds DATE_STANDIN (the night's date would replace it)."""
    project_dir = Path(project_dir)
    digest = hashlib.sha256()
    for package in _PACKAGES:
        digest.update(f"{package}={version(package)}\0".encode())
    names: set[str] = set()
    for path in sorted(project_dir.rglob("*")):
        rel = path.relative_to(project_dir)
        if not path.is_file() or rel.parts[0] in ("target", "logs") or path.name == ".user.yml":
            continue
        data = path.read_bytes()
        if DATE_STANDIN.encode() in data:
            raise DbtDocsError(f"{rel} contains {DATE_STANDIN}, the docs page's stand-in date")
        names.update(_ENV_VAR.findall(data.decode("utf-8", errors="replace")))
        digest.update(f"{rel}\0".encode() + data + b"\0")
    for name in sorted(names - set(_FIXED_ENV)):
        digest.update(f"{name}={os.environ.get(name)!r}\0".encode())
    return digest.hexdigest()[:24]


def generate_page(project_dir: Path, as_of_date: str, work: Path, *, log_dir: Path | None = None) -> Path:
    """dbt's own page for `as_of_date`: `dbt docs generate --static` in `work` (a folder of the
    caller's), returns its static_index.html.

    dbt re-parses the whole project (~30 s of CPU at 700 nodes) whenever its `--vars` or its profile's
    connection values differ from those its saved parse state was made with. So the date reaches dbt
    as `DBT_AS_OF_DATE` (macros/as_of.sql), never as a var, the warehouse is always the same in-memory
    database (nothing to open, no lock, the same profile every night), and the parse state of the last
    docs run is kept in `target/docs_partial_parse.msgpack`: a run whose dbt project did not change
    parses nothing (dbt checks the files' hashes itself)."""
    project_dir = Path(project_dir)
    saved = project_dir / "target" / DOCS_PARSE_STATE
    target = Path(work) / "target"
    target.mkdir(parents=True)
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
    cmd += ["--log-path", str(log_dir or Path(work) / "logs")]
    cmd += ["--quiet"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    page = target / "static_index.html"
    if proc.returncode != 0 or not page.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DbtDocsError(f"dbt docs generate failed ({proc.returncode}):\n{tail}")
    _keep_parse_state(target / "partial_parse.msgpack", saved)
    return page


def _keep_page(page: str, kept: Path) -> None:
    """Keep the page for the next nights (temp file + rename: never half-written) and drop the pages
    of earlier project states. Without a target/ folder nothing is kept."""
    if not kept.parent.is_dir():
        return
    tmp = kept.with_name(f".{kept.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, kept)
    for old in kept.parent.glob(KEPT_PAGE.format(key="*")):
        if old != kept:
            old.unlink(missing_ok=True)


def _keep_parse_state(state: Path, saved: Path) -> None:
    """Save this run's parse state for the next docs run (temp file + rename: never half-written)."""
    if not state.is_file() or not saved.parent.is_dir():
        return
    tmp = saved.with_name(f".{saved.name}.tmp-{os.getpid()}")
    shutil.copyfile(state, tmp)
    os.replace(tmp, saved)
