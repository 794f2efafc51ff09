"""Prepare the night's process: import the later steps' libraries on the core the loads leave idle,
and keep the garbage collector off the objects that live for the whole night.

A night runs its steps one at a time in one process (in-process executor). The quality gates start by
importing a large library, Great Expectations (~3 CPU s: its pydantic models, pandas). (The renewal
model's scikit-learn is no longer among them: the model is a dbt Python model and imports it in the dbt
process when it runs.) The first steps are the raw loads, whose
work is DuckDB queries that leave the second core mostly idle, so the night guard starts
`start()` as the night begins: a daemon thread imports those modules while the loads run, and the
steps find them in `sys.modules`. Nothing else changes: a module that fails to import here is left
alone (the step's own import raises the error where it belongs), and Python's per-module import locks
make a step that needs a module still being imported wait for it rather than import it twice — except
inside a package with circular imports that both threads enter, where one of them can get the module
half-initialised: such packages (SHARED_MODULES) are imported before the thread starts.

`frozen_heap()`: by the time a night starts, the process holds a large heap that lives until the end
(Dagster, dbt's manifest, the definitions, the imported libraries). Python's cyclic collector walks
all of it at every full (generation 2) collection, and a night's steps allocate enough to trigger
many: at 10,000 clients the night's process spent 4.1 CPU s in the collector, 2.7 of them in 10 full
collections. `gc.freeze()` at the start moves that heap to the permanent generation (never
scanned); `gc.unfreeze()` at the end gives it back, so a long-lived process (tests, a code server)
collects it again afterwards. The same night with the heap frozen: 1.8 CPU s in the collector
(docs/benchmarks.md). Nothing is freed later than it would be: objects are still freed by reference
counting; only reference cycles among the frozen objects wait for the unfreeze.
"""

from __future__ import annotations

import gc
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# what the steps after the loads import on first use (not with the definitions)
NIGHT_MODULES = ("orchestration.quality.gx_imports",)
# what those imports share with what the night's own thread imports on first use while the warm-up runs:
# Dagster's run storage (SQLAlchemy's ORM over sqlite3) and datetime.strptime's lazy `_strptime`.
# Imported by `start()` in the calling thread before the warm-up thread starts: two threads importing
# the same package with circular imports inside (SQLAlchemy's orm <-> sql) can each wait on the other's
# module lock, and Python breaks that by handing one of them the partially initialised module (a publish
# step's first event-log query failed once so, "partially initialized module 'sqlalchemy.orm.exc' has no
# attribute 'UnmappedClassError'", while the warm-up was importing Great Expectations).
SHARED_MODULES = ("sqlalchemy.orm", "sqlite3", "_strptime")


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - reported by the step that needs it, not here
            pass


def start(
    modules: tuple[str, ...] = NIGHT_MODULES, shared: tuple[str, ...] = SHARED_MODULES
) -> threading.Thread:
    """Import `shared` here, then `modules` in a daemon thread; returns the thread (tests join it)."""
    _import_all(shared)
    thread = threading.Thread(target=_import_all, args=(modules,), name="night-warmup", daemon=True)
    thread.start()
    return thread


@contextmanager
def frozen_heap() -> Iterator[None]:
    """The objects alive on entry are left out of the cyclic collector's passes until exit."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
