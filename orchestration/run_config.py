"""The as-of date every number of a night is computed for, and how a run finds it.

Resolution order: explicit op config `as_of_date` → run tag `opscenter/as_of_date` (set by the
schedule, the CLI and backfill launches; one place for the whole run) → the schedule's logical date.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

AS_OF_TAG = "opscenter/as_of_date"
# "1": the night's dbt invocations run with --full-refresh (every incremental model rebuilt from scratch);
# without it, an upgrade night still rebuilds the models whose code changed (orchestration/code_state.py)
FULL_REFRESH_TAG = "opscenter/full_refresh"
FIRM_TZ = ZoneInfo("Asia/Shanghai")


class AsOfConfig(dg.Config):
    """`as_of_date` (YYYY-MM-DD); empty means: take it from the run's tag / logical date."""

    as_of_date: str = ""

    def resolve(self, context) -> dt.date:
        return resolve_as_of(context, self.as_of_date)


def logical_as_of(scheduled_at: dt.datetime) -> dt.date:
    """A run scheduled at 02:00 Shanghai time processes the previous business day's exports."""
    return scheduled_at.astimezone(FIRM_TZ).date() - dt.timedelta(days=1)


def resolve_as_of(context, explicit: str = "") -> dt.date:
    if explicit:
        return dt.date.fromisoformat(explicit)
    tags = context.run.tags if getattr(context, "run", None) is not None else {}
    if tags.get(AS_OF_TAG):
        return dt.date.fromisoformat(tags[AS_OF_TAG])
    scheduled = tags.get("dagster/scheduled_execution_time")
    if scheduled:
        return logical_as_of(dt.datetime.fromisoformat(scheduled))
    raise dg.Failure(
        description=(
            "No as-of date: set op config `as_of_date` or the run tag "
            f"`{AS_OF_TAG}` (YYYY-MM-DD). Models never default to the wall clock."
        )
    )
