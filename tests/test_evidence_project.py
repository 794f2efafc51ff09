"""reports/ as an Evidence project: pins, lockfile and the offline patch agree, and the parts of
`make evidence` that run before npm (snapshot in a 1.x format, template page entries) do what they say.
The Evidence build itself takes minutes and is run by `make evidence` (docs/pages.md records it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration.render import render_site
from orchestration.render.evidence_build import (
    READABLE_BY_1X,
    compatible_snapshot,
    storage_version,
    template_entries,
)

REPORTS = Path(__file__).resolve().parent.parent / "reports"
FIXTURES = Path(__file__).parent / "fixtures" / "render"
PACKAGE = json.loads((REPORTS / "package.json").read_text(encoding="utf-8"))
LOCK = json.loads((REPORTS / "package-lock.json").read_text(encoding="utf-8"))


def test_versions_are_pinned_and_the_lockfile_matches():
    pins = PACKAGE["dependencies"] | PACKAGE["devDependencies"]
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in pins.values()), pins
    assert LOCK["packages"][""]["dependencies"] == PACKAGE["dependencies"]
    assert LOCK["packages"][""]["devDependencies"] == PACKAGE["devDependencies"]
    for name, version in pins.items():
        assert LOCK["packages"][f"node_modules/{name}"]["version"] == version, name
    # svelte2tsx wants typescript ^5; duckdb-wasm 1.28.0 does not autoload extensions from the internet
    assert pins["typescript"].startswith("5.")
    assert PACKAGE["overrides"]["@duckdb/duckdb-wasm"] == "1.28.0"
    assert LOCK["packages"]["node_modules/@duckdb/duckdb-wasm"]["version"] == "1.28.0"
    assert PACKAGE["scripts"]["postinstall"] == "node scripts/patch-universal-sql.cjs"
    assert "build:strict" in PACKAGE["scripts"]


def _fake_universal_sql(root: Path) -> list[Path]:
    src = root / "node_modules" / "@evidence-dev" / "universal-sql" / "src" / "client-duckdb"
    src.mkdir(parents=True)
    files = []
    for name in ("node.js", "browser.js"):
        f = src / name
        f.write_text(
            "connection = db.connect();\n"
            "\t\tawait connection.query('SET ieee_floating_point_ops = false;');\n"
            "\t\tawait connection.query('SET old_implicit_casting = true;');\n",
            encoding="utf-8",
        )
        files.append(f)
    (root / "scripts").mkdir()
    shutil.copy(REPORTS / "scripts" / "patch-universal-sql.cjs", root / "scripts")
    return files


@pytest.mark.skipif(shutil.which("node") is None, reason="node is installed by make setup")
def test_postinstall_patch_wraps_both_settings_once(tmp_path):
    files = _fake_universal_sql(tmp_path)
    script = str(tmp_path / "scripts" / "patch-universal-sql.cjs")
    first = subprocess.run(["node", script], capture_output=True, text=True, check=True)
    assert "4 statement(s) wrapped" in first.stdout
    patched = [f.read_text(encoding="utf-8") for f in files]
    for text in patched:
        assert text.count("try { await connection.query(") == 2
        assert "\t\tawait connection.query('SET" not in text
    again = subprocess.run(["node", script], capture_output=True, text=True, check=True)
    assert "0 statement(s) wrapped" in again.stdout  # idempotent
    assert [f.read_text(encoding="utf-8") for f in files] == patched
    files[0].write_text("something else\n", encoding="utf-8")  # the code it patches moved: fail loudly
    moved = subprocess.run(["node", script], capture_output=True, text=True, check=False)
    assert moved.returncode == 1 and "not found" in moved.stderr


def test_snapshot_copy_opens_in_duckdb_1x_format(tmp_path):
    snap = tmp_path / "snapshot.duckdb"
    with duckdb.connect(str(snap)) as con:
        con.execute((FIXTURES / "snapshot.sql").read_text(encoding="utf-8"))
    compat = compatible_snapshot(snap, tmp_path / "work")
    assert storage_version(compat) in READABLE_BY_1X
    with duckdb.connect(str(compat), read_only=True) as con:
        assert str(con.execute("select sum(amount) from marts.payments").fetchone()[0]) == "45345.67"
    if storage_version(snap) in READABLE_BY_1X:  # already readable: used as is, no copy
        assert compat == snap


def test_template_entries_are_the_pages_the_renderer_builds(tmp_path):
    snap = tmp_path / "snapshot.duckdb"
    with duckdb.connect(str(snap)) as con:
        con.execute((FIXTURES / "snapshot.sql").read_text(encoding="utf-8"))
    entries = template_entries(FIXTURES / "pages", snap, FIXTURES / "sources")
    assert entries == ["/clients/C'03", "/clients/C001", "/clients/C002"]
    rendered = render_site(FIXTURES / "pages", snap, tmp_path / "out", {"as_of_date": "2026-11-21"})
    assert sorted(p.url for p in rendered if p.params) == entries
