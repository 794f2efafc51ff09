"""Atomic publication of a night's results to the reporting folder (see docs/publication.md)."""

from orchestration.publish.publisher import (
    PersonalDataLeak,
    Published,
    RollbackError,
    apply_retention,
    check_writable,
    current_as_of,
    current_version,
    publish_run,
    publish_version,
    published_versions,
    rollback,
    verify_version,
)
from orchestration.publish.scanner import find_unmasked_personal_data

__all__ = [
    "PersonalDataLeak",
    "Published",
    "RollbackError",
    "apply_retention",
    "check_writable",
    "current_as_of",
    "current_version",
    "find_unmasked_personal_data",
    "publish_run",
    "publish_version",
    "published_versions",
    "rollback",
    "verify_version",
]
