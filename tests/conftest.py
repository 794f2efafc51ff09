"""Make the repository root importable (`orchestration.*`) when pytest runs from any directory."""

import os
import sys
from pathlib import Path

import pytest

# Files the tests write are complete when written: no settle window (contract 1.1) for nights the tests
# start through the settings (CLI subprocesses inherit it). The loader's own settle tests pass theirs.
os.environ.setdefault("OPSCENTER_SETTLE_SECONDS", "0")
# dbt runs one node at a time in the tests (profiles.yml reads it; the nights the tests start inherit it):
# the hand-made firms' nodes take milliseconds, two xdist workers already keep both cores busy, and a
# second dbt thread per worker only added CPU (README, "The test suite's time"). Results are the same.
os.environ.setdefault("OPSCENTER_DBT_THREADS", "1")

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# One session-wide Chromium for every page test: registering the fixture once here (not by importing it
# into each test module, which would start a second Playwright inside the first one's event loop).
from tests.browser import chromium  # noqa: E402, F401

# One published night shared by the end-to-end and report-page tests (see tests/night.py).
from tests.night import night  # noqa: E402, F401


def pytest_configure(config):
    """xdist (>= 3.7) hands out groups by their number of tests unless told not to, which undoes the
    longest-first order below (a one-test module running a 2-minute night would be handed out last)."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marks to group the tests
def pytest_collection_modifyitems(config, items):
    """Keep what a module shares on one xdist worker (`make test` runs `pytest -n 2 --dist loadgroup`).

    Most test modules build one small warehouse in a module-scoped fixture, and the end-to-end and
    report-page tests share the session's published night: each module is one group, and every
    module with a test that reads the night joins the "night" group, so neither is built twice.
    Without xdist the marks are inert.
    """

    def module(item):
        return item.nodeid.split("::")[0]

    def reads_night(item):  # the session's night fixture, not a parameter that happens to be called night
        params = getattr(getattr(item, "callspec", None), "params", {})
        return "night" in getattr(item, "fixturenames", ()) and "night" not in params

    night_modules = {module(i) for i in items if reads_night(i)}

    def group(item):
        return "night" if module(item) in night_modules else module(item)

    for item in items:
        item.add_marker(pytest.mark.xdist_group(group(item)))
        _suffix_group(config, item, group(item))
    # xdist hands out groups in collection order: the longest first, so that neither worker is left
    # with a long group at the end (the order of `--durations` on a full run)
    rank = {g: n for n, g in enumerate(LONGEST_GROUPS)}
    items.sort(key=lambda i: rank.get(group(i), len(rank)))


def _suffix_group(config, item, group: str) -> None:
    """What xdist's own hook does on a worker with --dist loadgroup: `<nodeid>@<group>`, the id the
    controller groups by. xdist 3.8 writes it to `item._nodeid`, which pytest >= 9.2 (structured node
    ids, `item._id`) no longer reads, so every test was handed out on its own: modules split over both
    workers and their module fixtures (and the session night) built twice (pytest-xdist issue #1386,
    fix pending in PR #1388). Sets the structured id where there is one; a no-op on older pytest,
    where xdist's hook does it."""
    if not getattr(config.option, "loadgroup", False) or not hasattr(item, "_id") or "@" in item.nodeid:
        return
    from _pytest.nodeid import NodeId

    item._id = NodeId.parse(f"{item.nodeid}@{group}")


LONGEST_GROUPS = [  # from `--durations=0` of a full run (2026-12-01, 2 workers): longest first
    "night",
    "tests/test_incremental_nights.py",
    "tests/test_upgrade_nights.py",
    "tests/test_forecast_baselines.py",
    "tests/test_incremental_models.py",
    "tests/test_ops_alerts.py",
    "tests/test_alerts_mart.py",
    "tests/test_dbt_helpers.py",
    "tests/test_publish_dbt_docs.py",
    "tests/test_core_models.py",
    "tests/test_publish_patch.py",
    "tests/test_renewal_cold_start.py",
    "tests/test_marts_collections_monthly.py",
    "tests/test_renewal_model.py",
    "tests/test_forecast_backtest.py",
]
