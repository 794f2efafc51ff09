"""Every OPSCENTER_* setting: its default and where it is read. The only module that reads them.

The environment is read in one place (the functions below); `orchestration.resources.default_resources`
turns the ones a run needs into Dagster resources when the Definitions are built, and the dbt CLI gets the
warehouse path from the warehouse resource. `SETTINGS` is the table the README documents (a test keeps
the README, this table and the code in step).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
REPORTS_DIR = REPO_ROOT / "reports"
PAGES_DIR = REPORTS_DIR / "pages"
# one dbt target folder per night: its artifacts, partial-parse state and the full dbt log
DBT_NIGHTS_DIR = DBT_PROJECT_DIR / "target" / "nights"


class Setting(NamedTuple):
    name: str
    default: str  # as the README shows it
    meaning: str


SETTINGS = (
    Setting("OPSCENTER_RAW_DIR", "`data/raw`", "landing zone: one folder per entity"),
    Setting("OPSCENTER_WAREHOUSE", "`data/warehouse/opscenter.duckdb`", "the working DuckDB warehouse"),
    Setting("OPSCENTER_PUBLISH_DIR", "`reports/published`", "published versions and `current`"),
    Setting(
        "OPSCENTER_MEMORY_BUDGET",
        "`3.6GB`",
        "peak RSS the publication step is sized for (the DuckDB limits below default to shares of it)",
    ),
    Setting(
        "OPSCENTER_PUBLISH_MEMORY_LIMIT",
        "(none: 40 % of the memory budget)",
        "DuckDB memory limit while the snapshot is built and scanned (spills to disk beyond it)",
    ),
    Setting(
        "OPSCENTER_PUBLISH_TEMP_DIR",
        "(none: a hidden folder beside the version being built)",
        "DuckDB temp folder of the snapshot build",
    ),
    Setting(
        "OPSCENTER_RENDER_MEMORY_LIMIT",
        "(none: 45 % of the memory budget, split between the render processes)",
        "DuckDB memory limit while the report pages are rendered (spills to disk beyond it)",
    ),
    Setting(
        "OPSCENTER_RENDER_WORKERS",
        "`2`",
        "processes rendering the report pages (this one and workers − 1 started for it; 1: one process)",
    ),
    Setting(
        "OPSCENTER_RENDER_PARALLEL_KEYS",
        "`5000`",
        "template-page keys (client pages, drill pages) from which the render is shared by those processes",
    ),
    Setting("OPSCENTER_QUALITY_DIR", "`data/quality`", "each run's gate results and data docs"),
    Setting(
        "OPSCENTER_QUALITY_CONFIG",
        "(none: built-in thresholds)",
        "JSON file overriding gate thresholds/severities (docs/quality-gate.md)",
    ),
    Setting(
        "OPSCENTER_ALERT_URLS",
        "(none: alerts only logged)",
        "apprise URLs for ops alerts, space/comma separated (WeCom, DingTalk, mail, ...)",
    ),
    Setting("OPSCENTER_ALERT_LOG", "`data/alerts/ops_alerts.jsonl`", "every ops alert and its delivery"),
    Setting(
        "OPSCENTER_DIGEST_URLS", "(none: digest only logged)", "apprise URLs of the managers' morning digest"
    ),
    Setting("OPSCENTER_DIGEST_LOG", "`data/alerts/digests.jsonl`", "every digest sent"),
    Setting(
        "OPSCENTER_PAGES_URL",
        "(none: the local `current/pages/index.html`)",
        "where managers open the pages; the digest links to it",
    ),
    Setting(
        "OPSCENTER_DAGSTER_URL", "`http://127.0.0.1:3000`", "Dagster UI base URL for links in ops alerts"
    ),
    Setting("OPSCENTER_SETTLE_SECONDS", "`60`", "a raw file is loaded only once unchanged this many seconds"),
    Setting(
        "OPSCENTER_LOAD_MEMORY_LIMIT", "`2GB`", "DuckDB memory limit of raw loads (spills to disk beyond it)"
    ),
    Setting(
        "OPSCENTER_LOAD_TEMP_DIR",
        "(none: `<warehouse>.load_tmp/`)",
        "DuckDB temp folder and transcoded working copies of raw loads",
    ),
    Setting("OPSCENTER_STALE_RAW_HOURS", "`36`", "hours without a raw load before ops are alerted"),
    Setting(
        "OPSCENTER_DBT",
        "`dbt`",
        "dbt executable started by orchestration/bin/dbt-child (dies with the night)",
    ),
    Setting("OPSCENTER_DBT_THREADS", "`2`", "dbt threads (read by dbt_project/profiles.yml)"),
    Setting(
        "OPSCENTER_DBT_MEMORY_LIMIT",
        "`3GB`",
        "DuckDB memory limit of dbt runs (read by dbt_project/profiles.yml; spills beyond it)",
    ),
    Setting(
        "OPSCENTER_DBT_DISABLED_COMPRESSION",
        "`dict_fsst`",
        "DuckDB compression methods dbt's tables are written without (read by dbt_project/profiles.yml; "
        "`none` keeps DuckDB's default): DICT_FSST text compression costs more CPU than its disk saves",
    ),
    Setting(
        "OPSCENTER_FULL_REFRESH_MODELS",
        "(none: set by each night)",
        "incremental models dbt rebuilds with full refresh, comma-separated; the night sets it for its dbt "
        "child from the code-state record (docs/runbook.md, Upgrade nights)",
    ),
    Setting("OPSCENTER_CHROMIUM", "`/usr/bin/chromium`", "headless Chromium of the page tests (tests only)"),
)


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).resolve() if value else default


def _list(env: str) -> list[str]:
    return [u for u in os.environ.get(env, "").replace(",", " ").split() if u]


def dbt_command() -> str:
    """The dbt executable orchestration/bin/dbt-child starts (`dbt`: this environment's dbt-core)."""
    return os.environ.get("OPSCENTER_DBT") or "dbt"


def dbt_memory_limit() -> str:
    """DuckDB memory limit of dbt runs: what dbt_project/profiles.yml passes to DuckDB (same default),
    for code that runs dbt's SQL outside dbt (the benchmark's bare-SQL floor)."""
    return os.environ.get("OPSCENTER_DBT_MEMORY_LIMIT") or "3GB"


def dbt_disabled_compression() -> str:
    """DuckDB compression methods dbt's connection disables, as dbt_project/profiles.yml reads them."""
    return os.environ.get("OPSCENTER_DBT_DISABLED_COMPRESSION", "dict_fsst")


def dbt_threads() -> int:
    """dbt threads, as dbt_project/profiles.yml reads them (DuckDB threads of the bare-SQL floor)."""
    return int(os.environ.get("OPSCENTER_DBT_THREADS") or 2)


def raw_dir() -> Path:
    return _path("OPSCENTER_RAW_DIR", REPO_ROOT / "data" / "raw")


def warehouse_path() -> Path:
    return _path("OPSCENTER_WAREHOUSE", REPO_ROOT / "data" / "warehouse" / "opscenter.duckdb")


def publish_dir() -> Path:
    return _path("OPSCENTER_PUBLISH_DIR", REPORTS_DIR / "published")


def quality_dir() -> Path:
    return _path("OPSCENTER_QUALITY_DIR", REPO_ROOT / "data" / "quality")


def quality_config_path() -> Path | None:
    value = os.environ.get("OPSCENTER_QUALITY_CONFIG")
    return Path(value) if value else None


def stale_raw_hours() -> float:
    return float(os.environ.get("OPSCENTER_STALE_RAW_HOURS") or 36)


def alert_log_path() -> Path:
    return _path("OPSCENTER_ALERT_LOG", REPO_ROOT / "data" / "alerts" / "ops_alerts.jsonl")


def alert_urls() -> list[str]:
    return _list("OPSCENTER_ALERT_URLS")


def digest_urls() -> list[str]:
    """apprise URLs of the managers' morning digest (space/comma separated), e.g. a WeCom group bot."""
    return _list("OPSCENTER_DIGEST_URLS")


def digest_log_path() -> Path:
    return _path("OPSCENTER_DIGEST_LOG", REPO_ROOT / "data" / "alerts" / "digests.jsonl")


def pages_url() -> str | None:
    """Where managers open the published pages (e.g. http://reports.firm.local/current/pages/), if served."""
    return os.environ.get("OPSCENTER_PAGES_URL") or None


def dagster_url() -> str:
    """Base URL of the Dagster UI for links in ops alerts (OPSCENTER_DAGSTER_URL), e.g.
    http://dagster.firm.local:3000; default the local `make dev` address."""
    return os.environ.get("OPSCENTER_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")


# DuckDB's size units: KB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB powers of 1024
_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
# shares of the memory budget the publication step's DuckDB instances get (one at a time: the snapshot
# build, then the page renderer, then the personal-data scan); the rest is for what the process holds
# beside DuckDB: Python objects of the renderer (~1 GB at 100,000 clients), whatever the night's earlier
# steps left, DuckDB's allocations outside its buffer pool (docs/benchmarks.md, "Memory per step").
# The renderer's share is split between its processes (render_workers); at 0.25 (429MiB a process at
# 100,000 clients) the client page's stored results spilled: 858MiB a process rendered the one-day
# night's pages in ~9 % less CPU (docs/benchmarks.md, pagesfloor section), hence 0.45 (~790MiB each)
PUBLISH_SHARE, RENDER_SHARE = 0.40, 0.45


def parse_size(text: str) -> int:
    """Bytes of a size written as DuckDB writes one ('3.6GB', '1500 MiB', '2gb')."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (e.g. 3.6GB, 1500MiB)")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def memory_budget() -> int:
    """Bytes of OPSCENTER_MEMORY_BUDGET: the peak RSS a night's publication step is sized for
    (default 3.6GB, under issue 15's 4 GB per step with a margin)."""
    return parse_size(os.environ.get("OPSCENTER_MEMORY_BUDGET") or "3.6GB")


def _budget_share(share: float) -> str:
    return f"{memory_budget() * share / 2**20:.0f}MiB"


def publish_memory_limit() -> str:
    """Publisher: DuckDB memory_limit of the snapshot build and its PII scan (spills beyond it);
    default 40 % of the memory budget."""
    return os.environ.get("OPSCENTER_PUBLISH_MEMORY_LIMIT") or _budget_share(PUBLISH_SHARE)


def publish_temp_dir() -> str:
    """Publisher: DuckDB temp_directory of the snapshot build ('' = beside the version being built)."""
    return os.environ.get("OPSCENTER_PUBLISH_TEMP_DIR", "")


def render_memory_limit() -> str:
    """Page renderer: DuckDB memory_limit while the pages are rendered (spills beyond it); default
    45 % of the memory budget (RENDER_SHARE)."""
    return os.environ.get("OPSCENTER_RENDER_MEMORY_LIMIT") or _budget_share(RENDER_SHARE)


def render_workers() -> int:
    """Page renderer: processes rendering the pages (render_site's `workers`; 2 on this 2-core machine:
    rendering is mostly single-threaded Python, so a second process uses the other core)."""
    return max(1, int(os.environ.get("OPSCENTER_RENDER_WORKERS") or "2"))


def render_parallel_keys() -> int:
    """Page renderer: the number of template-page keys from which the render is shared by
    `render_workers()` processes (a worker costs about a second to start: small firms render in one)."""
    return int(os.environ.get("OPSCENTER_RENDER_PARALLEL_KEYS") or "5000")


def load_settle_seconds() -> float:
    """Loader: a raw file is complete when unchanged this long (contract 1.1, default 60 s)."""
    return float(os.environ.get("OPSCENTER_SETTLE_SECONDS", "60"))


def load_memory_limit() -> str:
    """Loader: DuckDB memory_limit during raw loads (beyond it DuckDB spills to its temp directory)."""
    return os.environ.get("OPSCENTER_LOAD_MEMORY_LIMIT", "2GB")


def load_temp_dir() -> str:
    """Loader: DuckDB temp_directory and the transcoded working copies ('' = next to the warehouse)."""
    return os.environ.get("OPSCENTER_LOAD_TEMP_DIR", "")


def chromium_path() -> Path:
    """Headless Chromium of the page tests and the Evidence comparison (OPSCENTER_CHROMIUM)."""
    return Path(os.environ.get("OPSCENTER_CHROMIUM", "/usr/bin/chromium"))
