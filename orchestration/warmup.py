"""Import the night's later steps' libraries on the core the loads leave idle.

A night runs its steps one at a time in one process (in-process executor). Two of them start by
importing a large library: the quality gates Great Expectations (~3 CPU s: its pydantic models), the
renewal model scikit-learn, SciPy and pandas (~1.5 CPU s). The first steps are the raw loads, whose
work is DuckDB queries that leave the second core mostly idle, so the night guard starts
`start()` as the night begins: a daemon thread imports those modules while the loads run, and the
steps find them in `sys.modules`. Nothing else changes: a module that fails to import here is left
alone (the step's own import raises the error where it belongs), and Python's per-module import locks
make a step that needs a module still being imported wait for it rather than import it twice.
"""

from __future__ import annotations

import importlib
import threading

# what the steps after the loads import on first use (not with the definitions)
NIGHT_MODULES = (
    "orchestration.quality.gx_imports",
    "orchestration.models.renewal",
)


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - reported by the step that needs it, not here
            pass


def start(modules: tuple[str, ...] = NIGHT_MODULES) -> threading.Thread:
    """Import `modules` in a daemon thread; returns the thread (tests join it)."""
    thread = threading.Thread(target=_import_all, args=(modules,), name="night-warmup", daemon=True)
    thread.start()
    return thread
