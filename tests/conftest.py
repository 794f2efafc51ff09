"""Make the repository root importable (`orchestration.*`) when pytest runs from any directory."""

import os
import sys
from pathlib import Path

# Files the tests write are complete when written: no settle window (contract 1.1) for nights the tests
# start through the settings (CLI subprocesses inherit it). The loader's own settle tests pass theirs.
os.environ.setdefault("OPSCENTER_SETTLE_SECONDS", "0")

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# One session-wide Chromium for every page test: registering the fixture once here (not by importing it
# into each test module, which would start a second Playwright inside the first one's event loop).
from tests.browser import chromium  # noqa: E402, F401

# One published night shared by the end-to-end and report-page tests (see tests/night.py).
from tests.night import night  # noqa: E402, F401


def pytest_collection_modifyitems(config, items):
    """Keep what a module shares on one xdist worker (`make test` runs `pytest -n 2 --dist loadgroup`).

    Most test modules build one small warehouse in a module-scoped fixture, and the end-to-end and
    report-page tests share the session's published night: each module is one group, and every
    module with a test that reads the night joins the "night" group, so neither is built twice.
    Without xdist the marks are inert.
    """
    import pytest

    def module(item):
        return item.nodeid.split("::")[0]

    night_modules = {module(i) for i in items if "night" in getattr(i, "fixturenames", ())}
    for item in items:
        group = "night" if module(item) in night_modules else module(item)
        item.add_marker(pytest.mark.xdist_group(group))
