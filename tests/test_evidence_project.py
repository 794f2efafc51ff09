"""reports/ as an Evidence project: pins, lockfile and the offline patch agree, and the parts of
`make evidence` that run before npm (snapshot in a 1.x format, template page entries) do what they say.
The Evidence build itself takes minutes and is run by `make evidence` (docs/pages.md records it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.render import evidence_build, render_site
from orchestration.render.evidence_build import (
    READABLE_BY_1X,
    EvidenceBuildError,
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


BUILD_PARQUET = """\
function convertArrayToVector(column, rawValues) {
\tswitch (column.evidenceType) {
\t\tcase 'date':
\t\t\tif (!rawValues.some((v) => v !== null)) {
\t\t\t\treturn vectorFromArray(rawValues, new Float64());
\t\t\t}
\t\t\treturn vectorFromArray(rawValues, new TimestampMillisecond());
\t\tcase 'boolean':
\t\t\tif (!rawValues.some((v) => v !== null)) {
\t\t\t\treturn vectorFromArray(rawValues, new Float64());
\t\t\t}
\t\t\treturn vectorFromArray(rawValues, new Bool());
\t}
}
export async function buildMultipartParquet() {
\tif (currentBatch.length) await flush(currentBatch);
\tif (!tmpFilenames.length) return 0;
}
"""


def _fake_universal_sql(root: Path) -> list[Path]:
    """The lines of @evidence-dev/universal-sql the postinstall script patches, as they are upstream."""
    src = root / "node_modules" / "@evidence-dev" / "universal-sql" / "src"
    (src / "client-duckdb").mkdir(parents=True)
    files = []
    for name in ("node.js", "browser.js"):
        f = src / "client-duckdb" / name
        f.write_text(
            "connection = db.connect();\n"
            "\t\tawait connection.query('SET ieee_floating_point_ops = false;');\n"
            "\t\tawait connection.query('SET old_implicit_casting = true;');\n",
            encoding="utf-8",
        )
        files.append(f)
    (src / "build-parquet.js").write_text(BUILD_PARQUET, encoding="utf-8")
    files.append(src / "build-parquet.js")
    both = src / "client-duckdb" / "both.js"  # query results: DATE columns to JS dates, twice
    both.write_text("\t\t\trow[col.name] = new Date(row[col.name]);\n" * 2, encoding="utf-8")
    files.append(both)
    (root / "scripts").mkdir()
    shutil.copy(REPORTS / "scripts" / "patch-universal-sql.cjs", root / "scripts")
    return files


@pytest.mark.skipif(shutil.which("node") is None, reason="node is installed by make setup")
def test_postinstall_patch_applies_once_and_fails_when_the_code_moved(tmp_path):
    files = _fake_universal_sql(tmp_path)
    script = str(tmp_path / "scripts" / "patch-universal-sql.cjs")
    first = subprocess.run(["node", script], capture_output=True, text=True, check=True)
    assert "8 change(s) applied" in first.stdout
    patched = [f.read_text(encoding="utf-8") for f in files]
    for text in patched[:2]:  # unknown settings in duckdb-wasm 1.28 are not fatal
        assert text.count("try { await connection.query(") == 2
        assert "\t\tawait connection.query('SET" not in text
    parquet = patched[2]
    # a 0-row source is written (an empty batch is flushed when nothing else was)
    assert "if (currentBatch.length || !tmpFilenames.length) await flush(currentBatch);" in parquet
    date_case = parquet.split("case 'date':")[1].split("case 'boolean':")[0]
    assert "if (false " in date_case  # all-null dates stay TIMESTAMP
    bool_case = parquet.split("case 'boolean':")[1]
    assert "if (rawValues.length " in bool_case  # 0-row booleans stay BOOLEAN; all-null ones DOUBLE
    assert patched[3].count("row[col.name] == null ? null : new Date(row[col.name]);") == 2  # null stays null
    again = subprocess.run(["node", script], capture_output=True, text=True, check=True)
    assert "0 change(s) applied" in again.stdout  # idempotent
    assert [f.read_text(encoding="utf-8") for f in files] == patched
    files[2].write_text(
        BUILD_PARQUET.replace("if (currentBatch.length)", "if (batch.length)"), encoding="utf-8"
    )
    moved = subprocess.run(
        ["node", script], capture_output=True, text=True, check=False
    )  # the code moved: fail
    assert moved.returncode == 1 and "not found" in moved.stderr


WRITE_PARQUET = """
import { buildMultipartParquet } from '@evidence-dev/universal-sql';
import { initDB, query } from '@evidence-dev/universal-sql/client-duckdb';
const out = process.argv[1];
const columns = [{ name: 'id', evidenceType: 'string' }, { name: 'amount', evidenceType: 'number' },
  { name: 'closed_date', evidenceType: 'date' }, { name: 'is_open', evidenceType: 'boolean' }];
const rows = [{ id: 'A1', amount: 12.5, closed_date: null, is_open: true },
  { id: 'A2', amount: -3, closed_date: null, is_open: false }];
const written = [await buildMultipartParquet(columns, [], out + '/tmp', out, 'empty.parquet'),
  await buildMultipartParquet(columns, rows, out + '/tmp', out, 'no_dates.parquet')];
await initDB();
const dates = query("select * from (values (date '2026-11-20'), (null)) t(d)").map((r) => r.d);
console.log(JSON.stringify([...written, dates]));
process.exit(0);
"""


@pytest.mark.skipif(
    not (REPORTS / "node_modules" / "@evidence-dev" / "universal-sql").is_dir(),
    reason="reports/node_modules is installed by make evidence",
)
def test_installed_evidence_writes_empty_sources_and_keeps_all_null_dates(tmp_path):
    """The real, patched `evidence sources` parquet writer: a 0-row source is a 0-row file with its
    columns, and a date column with no value keeps its TIMESTAMP type (comparable with dates); and
    Evidence's query results keep a null date null."""
    done = subprocess.run(
        ["node", "--input-type=module", "-e", WRITE_PARQUET, str(tmp_path)],
        cwd=REPORTS,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # a null date in a query result stays null (upstream: new Date(null), shown as 1970-01-01)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, 2, ["2026-11-20T00:00:00.000Z", None]]
    types = {"id": "VARCHAR", "amount": "DOUBLE", "closed_date": "TIMESTAMP", "is_open": "BOOLEAN"}
    with duckdb.connect() as con:
        for name, count in (("empty", 0), ("no_dates", 2)):
            rel = con.sql(f"select * from read_parquet('{tmp_path / name}.parquet')")
            assert dict(zip(rel.columns, map(str, rel.types), strict=True)) == types
            assert len(rel.fetchall()) == count
        late = con.execute(
            f"select count(*) from read_parquet('{tmp_path}/no_dates.parquet') "
            "where closed_date >= date '2026-11-01' - interval 30 day or is_open"
        ).fetchone()
        assert late == (1,)


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


def test_a_page_query_error_fails_the_build_step():
    """build:strict logs "Error in Query!" for a page SQL that Evidence's DuckDB cannot run and still
    exits 0 (found with `interval 8 week`); make evidence fails on that line."""
    timings: dict = {}
    failing = "print('weekly | Error in Query! Parser Error: syntax error at or near \"week\"')"
    with pytest.raises(
        EvidenceBuildError, match=r"(?s)1 page query error.*weekly \| Error in Query! Parser Error"
    ):
        evidence_build._run("build_strict", [sys.executable, "-c", failing], dict(os.environ), timings)
    assert timings["build_strict"] >= 0
    evidence_build._run("sources", [sys.executable, "-c", "print('wrote 0 rows')"], dict(os.environ), timings)
    with pytest.raises(subprocess.CalledProcessError):
        evidence_build._run(
            "sources", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), timings
        )
