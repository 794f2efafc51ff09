"""Thresholds of the quality gate, with defaults, overridable from a JSON file (no code change)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from orchestration import settings

ERROR = "error"  # blocks publication
WARN = "warn"  # reported and alerted, publication goes ahead
SEVERITIES = (ERROR, WARN)


@dataclass(frozen=True)
class QualityConfig:
    """Every threshold the GX suites use. Load overrides with `QualityConfig.load()`."""

    # value ranges
    max_invoice_amount: float = 1_000_000.0  # yuan; a bill above this is a typo (extra zeros)
    max_payment_amount: float = 1_000_000.0
    max_error_count: int = 50  # 差错数 per task
    max_days_past_due: int = 3650
    # distributions, over payments paid in the trailing window ending on the as-of date
    distribution_window_days: int = 30
    unidentified_methods: tuple[str, ...] = ("unidentified",)
    max_unidentified_share: float = 0.15
    max_channel_share: float = 0.90  # kept for old config files; the check compares with history:
    max_channel_share_shift: float = 0.25  # dominant channel's share vs its share in the firm's history
    channel_history_days: int = 180  # the history: this many days before the window
    channel_min_history_payments: int = 50  # fewer payments in the history: pass with a note
    max_other_channel_share: float = 0.30
    max_other_industry_share: float = 0.50
    # volume: tonight vs the median of the trailing nights in raw.load_runs
    volume_history_nights: int = 30
    volume_min_history: int = 3  # fewer nights of history: pass with a note
    volume_band: float = 0.5  # accepted / unique rows within median × (1 ± band)
    # freshness: newest updated_at per raw entity vs the as-of date
    freshness_lag_days: int = 2
    future_updated_at_days: int = 1  # updated_at later than as_of + this many days is a source clock error
    freshness_lag_days_by_entity: dict[str, int] = field(
        default_factory=lambda: {"staff": 60, "clients": 14, "contracts": 14, "feedback": 14}
    )
    # rejects: share of tonight's rows the loader rejected, per entity
    max_reject_share: float = 0.05
    # up to this many rejected rows per entity and night never fail the share check
    reject_allowance_rows: int = 3
    # check name -> "error" | "warn", overriding a check's default severity
    severity_overrides: dict[str, str] = field(default_factory=dict)

    def lag_days(self, entity: str) -> int:
        return self.freshness_lag_days_by_entity.get(entity, self.freshness_lag_days)

    def severity(self, check_name: str, default: str) -> str:
        sev = self.severity_overrides.get(check_name, default)
        if sev not in SEVERITIES:
            raise ValueError(f"severity of {check_name} must be one of {SEVERITIES}, got {sev!r}")
        return sev

    @classmethod
    def load(cls, path: Path | None = None) -> QualityConfig:
        """Defaults, updated from the JSON object at `path` or $OPSCENTER_QUALITY_CONFIG if set."""
        path = path or settings.quality_config_path()
        if path is None:
            return cls()
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown quality settings in {path}: {sorted(unknown)}")
        if "unidentified_methods" in data:
            data["unidentified_methods"] = tuple(data["unidentified_methods"])
        return cls(**data)


def quality_runs_dir() -> Path:
    """Where each run's check results and data docs are written before publication copies them."""
    return settings.quality_dir()
