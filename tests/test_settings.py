"""One configuration path: every OPSCENTER_* variable in settings.SETTINGS and the README table, read
only by orchestration/settings.py; dbt pointed at the warehouse resource, not the process environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from orchestration import settings
from orchestration.assets.dbt import night_target_path, summarize

REPO = settings.REPO_ROOT
NAME = re.compile(r"OPSCENTER_[A-Z][A-Z_]*[A-Z]")
# a read: environ.get("OPSCENTER_…") / getenv("OPSCENTER_…") / environ["OPSCENTER_…"] not assigned to
READ = re.compile(
    r"""(environ\.get\(|getenv\()\s*["']OPSCENTER_"""
    r"""|environ\[\s*["']OPSCENTER_\w+["']\s*\](?!\s*=)"""
)


def _tracked(*patterns: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, capture_output=True, text=True, check=True)
    return [p for p in out.stdout.split() if (REPO / p).is_file()]


def test_every_variable_in_the_code_is_a_documented_setting():
    files = _tracked("orchestration", "tests", "dbt_project", "Makefile", "reports/*.js", "reports/*.json")
    used = {m for f in files for m in NAME.findall((REPO / f).read_text(encoding="utf-8", errors="ignore"))}
    assert used, "the scan found nothing: the pattern or the file list is wrong"
    assert used <= {s.name for s in settings.SETTINGS}, sorted(used - {s.name for s in settings.SETTINGS})


def test_readme_table_is_the_settings_table():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration (environment)", 1)[1].split("\n## ", 1)[0]
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| `OPSCENTER_")
    ]
    assert [(r[0].strip("`"), r[1]) for r in rows] == [(s.name, s.default) for s in settings.SETTINGS]


def test_only_settings_reads_opscenter_variables():
    readers = [
        f
        for f in _tracked("orchestration")
        if f.endswith(".py")
        and f != "orchestration/settings.py"
        and READ.search((REPO / f).read_text(encoding="utf-8"))
    ]
    assert readers == []


def test_loading_the_definitions_leaves_the_environment_alone(tmp_path):
    """No import-time side effect: dbt finds the warehouse through the resource, not os.environ."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSCENTER_")}
    env["OPSCENTER_WAREHOUSE"] = str(tmp_path / "w.duckdb")
    code = (
        "import json, os; from orchestration.definitions import defs; "
        "print(json.dumps([defs.resources['warehouse'].path, "
        "{k: v for k, v in os.environ.items() if k.startswith('OPSCENTER_')}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    path, environ = json.loads(out.stdout.strip().splitlines()[-1])
    assert path == str(tmp_path / "w.duckdb")
    assert environ == {"OPSCENTER_WAREHOUSE": str(tmp_path / "w.duckdb")}

    del env["OPSCENTER_WAREHOUSE"]
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    path, environ = json.loads(out.stdout.strip().splitlines()[-1])
    assert path == str(REPO / "data" / "warehouse" / "opscenter.duckdb")
    assert environ == {}


def test_dbt_summary_counts_statuses_and_lists_what_did_not_pass():
    results = {
        "elapsed_time": 12.4,
        "results": [
            {"unique_id": "model.a", "status": "success"},
            {"unique_id": "model.b", "status": "success"},
            {"unique_id": "test.c", "status": "pass"},
            {"unique_id": "test.d", "status": "fail", "message": "Got 3 results, configured to fail if != 0"},
            {"unique_id": "test.e", "status": "warn", "message": "Got 1 result"},
            {"unique_id": "model.f", "status": "skipped"},
        ],
    }
    line, problems = summarize(results)
    assert line == "dbt: 6 nodes in 12s (1 fail, 1 pass, 1 skipped, 2 success, 1 warn)"
    assert problems == [
        "FAIL test.d: Got 3 results, configured to fail if != 0",
        "WARN test.e: Got 1 result",
    ]


def test_night_target_folders_are_kept_for_the_last_nights_only(tmp_path):
    for n in range(12):
        path = night_target_path(f"run{n}", root=tmp_path)
        os.utime(path, (1_000_000 + n, 1_000_000 + n))  # created one after another
    assert night_target_path("run11", root=tmp_path) == path  # the night's invocations share it
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"run{n}" for n in range(2, 12))


def test_the_memory_budget_sizes_publications_duckdb_limits_and_reaches_duckdb(monkeypatch, tmp_path):
    """OPSCENTER_MEMORY_BUDGET: the publisher's DuckDB gets 40 % of it, the page renderer's 25 %, unless
    set on their own; the limit reaches the DuckDB each opens (the renderer's connection is asked)."""
    import duckdb

    from orchestration import resources
    from orchestration.render.queries import open_snapshot

    for name in (
        "OPSCENTER_MEMORY_BUDGET",
        "OPSCENTER_PUBLISH_MEMORY_LIMIT",
        "OPSCENTER_RENDER_MEMORY_LIMIT",
    ):
        monkeypatch.delenv(name, raising=False)
    assert settings.memory_budget() == 3_600_000_000
    assert (settings.publish_memory_limit(), settings.render_memory_limit()) == ("1373MiB", "1545MiB")
    monkeypatch.setenv("OPSCENTER_MEMORY_BUDGET", "2GiB")  # 2048 MiB: 819.2 and 921.6 MiB
    assert resources.default_resources()["publisher"].memory_limit == "819MiB"
    assert settings.render_memory_limit() == "922MiB"
    snap = tmp_path / "snapshot.duckdb"
    duckdb.connect(str(snap)).close()
    con = open_snapshot(snap, None, settings.render_memory_limit())
    assert con.execute("select current_setting('memory_limit')").fetchone()[0] == "922.0 MiB"
    con.close()
    with duckdb.connect(config={"memory_limit": settings.publish_memory_limit()}) as con:
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == "819.0 MiB"
    monkeypatch.setenv("OPSCENTER_RENDER_MEMORY_LIMIT", "1.5GB")  # set on its own: the budget is not used
    assert settings.render_memory_limit() == "1.5GB"
    for bad in ("lots", "3.6 GX", "GB"):
        monkeypatch.setenv("OPSCENTER_MEMORY_BUDGET", bad)
        with pytest.raises(ValueError, match="not a size"):
            settings.memory_budget()
    assert settings.parse_size("1500 MiB") == 1500 * 2**20 and settings.parse_size("2gb") == 2 * 10**9
