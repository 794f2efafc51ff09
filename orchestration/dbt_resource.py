"""The night's dbt resource: dagster-dbt's DbtCliResource without two per-invocation extras we never use.

Before each dbt invocation DbtCliResource.cli (dagster-dbt 0.29) does, in the Dagster process:
- `dbt --version` in a subprocess, once per resource instance, to tell dbt Core from dbt Fusion: a whole
  dbt start-up (~1.5 CPU s; 7.7 s of wall on the loaded 800-client demo) to learn the version of the
  dbt-core package this environment already imported;
- `_initialize_dbt_core_adapter`: loads the profile and project, registers a DuckDB adapter and parses
  every macro of the project, per invocation (two a night; ~8 s of wall each on the loaded demo). The
  adapter serves only `fetch_row_counts()` / `fetch_column_metadata()` on the event stream, which the
  night does not call (row counts would re-read every model after it is built).
Here the version comes from the installed dbt-core when the child runs this environment's `dbt`
(OPSCENTER_DBT unset; another executable is still asked), and no adapter is built. dbt itself, its
events, the Dagster materializations and check results are unchanged. tests/test_dbt_assets.py checks
the version against the real `dbt --version` and that the overridden methods still exist upstream.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from dagster_dbt import DbtCliResource

from orchestration import settings

if TYPE_CHECKING:
    from packaging import version


class NightDbtCliResource(DbtCliResource):
    """DbtCliResource that knows its dbt version and builds no adapter handle (see the module doc)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if settings.dbt_command() == "dbt":
            from dagster_dbt.compat import DBT_PYTHON_VERSION

            if DBT_PYTHON_VERSION is not None:
                return DBT_PYTHON_VERSION
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - same signature as upstream
        return None  # only fetch_row_counts / fetch_column_metadata use it; the night calls neither
