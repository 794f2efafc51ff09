"""Quality gate, GX layer: suites as data (`suites`), thresholds (`config`), the runner (`runner`)."""

from orchestration.quality.config import ERROR, WARN, QualityConfig, quality_runs_dir
from orchestration.quality.runner import CheckOutcome, run_quality_suites
from orchestration.quality.suites import CHECKS, CHECKS_BY_NAME

__all__ = [
    "CHECKS",
    "CHECKS_BY_NAME",
    "ERROR",
    "WARN",
    "CheckOutcome",
    "QualityConfig",
    "quality_runs_dir",
    "run_quality_suites",
]
