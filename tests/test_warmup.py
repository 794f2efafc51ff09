"""The night's warm-up: the definitions import no heavy gate library; the warm-up thread does. The
renewal model's scikit-learn is imported by neither: the model runs in the dbt process (models/ml)."""

import subprocess
import sys

HEAVY = ("sklearn", "scipy", "pandas", "great_expectations")

SCRIPT = f"""
import os, sys
os.environ.pop("GX_ANALYTICS_ENABLED", None)
import orchestration.definitions
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
from orchestration import warmup
warmup.start().join()
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
print(os.environ.get("GX_ANALYTICS_ENABLED"))
from orchestration.quality import runner
print("orchestration.models.renewal" in sys.modules, runner.__name__ in sys.modules)
"""


def test_definitions_leave_heavy_imports_to_the_warmup_thread():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    before, after, analytics, loaded = out.strip().splitlines()[-4:]
    assert before == "[]"  # loading the definitions (webserver, CLI, every night) pays none of them
    assert after == str(sorted(set(HEAVY) - {"sklearn"}))  # the warm-up thread imported the gates' libraries
    assert analytics == "false"  # GX imported with its analytics off, as the gates import it
    assert loaded == "False True"  # the night process does not run the renewal model (dbt does)


def test_the_night_heap_is_frozen_for_the_collector_and_given_back():
    import gc

    from orchestration.warmup import frozen_heap

    alive = [[i] for i in range(10_000)]  # tracked containers alive when the night starts
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() >= len(alive)  # out of the collector's passes during the night
        cycle = [None]
        cycle[0] = cycle  # garbage made during the night is still collected
        del cycle
        assert gc.collect() >= 1
    assert gc.get_freeze_count() == 0  # a long-lived process collects its heap again afterwards


SHARED = """
import sys
import orchestration.definitions
from orchestration import warmup
print([m in sys.modules for m in warmup.SHARED_MODULES])
warmup.start(modules=())  # a thread that imports nothing: what is loaded now came from start() itself
print([m in sys.modules for m in warmup.SHARED_MODULES])
"""


def test_what_the_warmup_shares_with_the_night_is_imported_before_its_thread_starts():
    # the night's thread (Dagster's run storage) and the warm-up's Great Expectations both import
    # SQLAlchemy's ORM on first use: imported once, here, they never race (warmup.SHARED_MODULES)
    out = subprocess.run([sys.executable, "-c", SHARED], capture_output=True, text=True, check=True).stdout
    before, after = out.strip().splitlines()[-2:]
    assert before.startswith("[False")  # the definitions alone do not import SQLAlchemy's ORM
    assert after == "[True, True, True]"
