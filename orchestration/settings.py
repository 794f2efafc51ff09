"""Filesystem locations, resolved from the environment with repo-relative defaults."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
REPORTS_DIR = REPO_ROOT / "reports"
PAGES_DIR = REPORTS_DIR / "pages"


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).resolve() if value else default


def raw_dir() -> Path:
    return _path("OPSCENTER_RAW_DIR", REPO_ROOT / "data" / "raw")


def warehouse_path() -> Path:
    return _path("OPSCENTER_WAREHOUSE", REPO_ROOT / "data" / "warehouse" / "opscenter.duckdb")


def publish_dir() -> Path:
    return _path("OPSCENTER_PUBLISH_DIR", REPORTS_DIR / "published")


def alert_log_path() -> Path:
    return _path("OPSCENTER_ALERT_LOG", REPO_ROOT / "data" / "alerts" / "ops_alerts.jsonl")


def alert_urls() -> list[str]:
    raw = os.environ.get("OPSCENTER_ALERT_URLS", "")
    return [u for u in raw.replace(",", " ").split() if u]


def digest_urls() -> list[str]:
    """apprise URLs of the managers' morning digest (space/comma separated), e.g. a WeCom group bot."""
    raw = os.environ.get("OPSCENTER_DIGEST_URLS", "")
    return [u for u in raw.replace(",", " ").split() if u]


def digest_log_path() -> Path:
    return _path("OPSCENTER_DIGEST_LOG", REPO_ROOT / "data" / "alerts" / "digests.jsonl")


def pages_url() -> str | None:
    """Where managers open the published pages (e.g. http://reports.firm.local/current/pages/), if served."""
    return os.environ.get("OPSCENTER_PAGES_URL") or None


def dagster_url() -> str:
    """Base URL of the Dagster UI for links in ops alerts (OPSCENTER_DAGSTER_URL), e.g.
    http://dagster.firm.local:3000; default the local `make dev` address."""
    return os.environ.get("OPSCENTER_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")


def load_settle_seconds() -> float:
    """Loader: a raw file is complete when unchanged this long (contract 1.1, default 60 s)."""
    return float(os.environ.get("OPSCENTER_SETTLE_SECONDS", "60"))


def load_memory_limit() -> str:
    """Loader: DuckDB memory_limit during raw loads (beyond it DuckDB spills to its temp directory)."""
    return os.environ.get("OPSCENTER_LOAD_MEMORY_LIMIT", "2GB")


def load_temp_dir() -> str:
    """Loader: DuckDB temp_directory and the transcoded working copies ('' = next to the warehouse)."""
    return os.environ.get("OPSCENTER_LOAD_TEMP_DIR", "")
