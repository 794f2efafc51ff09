"""Atomic publication of a night's results to the reporting folder (see docs/publication.md)."""

from orchestration.publish.publisher import (
    PersonalDataLeak,
    apply_retention,
    current_version,
    publish_run,
    published_versions,
)
from orchestration.publish.scanner import find_unmasked_personal_data

__all__ = [
    "PersonalDataLeak",
    "apply_retention",
    "current_version",
    "find_unmasked_personal_data",
    "publish_run",
    "published_versions",
]
