"""`make evidence`: build reports/ with the real Evidence (pinned in reports/package-lock.json), offline,
against the current publication, with `build:strict`. See docs/pages.md "Building with Evidence".

1. The snapshot must open in Evidence's DuckDB 1.x driver. If the current one is in a newer storage
   format, a copy is written with `STORAGE_VERSION 'v1.0.0'` (the publisher writes such a snapshot
   itself once it does; then it is used as is).
2. Template pages (clients/[client_id], progress/[key]) are built by SvelteKit only when something
   links to them; the same `params_query` the offline renderer uses lists their URLs, which
   reports/svelte.config.js hands to the prerenderer, so both renderings build the same pages.
3. `npm install` of the lockfile (postinstall: scripts/patch-universal-sql.cjs), `evidence sources`,
   `evidence build:strict`;
   the only network use is the npm registry during that install.
4. build:strict only logs a page query that fails ("Error in Query!") and still succeeds; here such a
   line fails the build, so a page SQL that Evidence's DuckDB (duckdb-wasm 1.28 = DuckDB 0.9) cannot run
   does not pass unnoticed.
Prints the wall and CPU time of each step (build: compile, then prerender) and the size of reports/build.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from orchestration import settings

from .page_source import parse_page
from .queries import open_snapshot, run_one

REPORTS = settings.REPO_ROOT / "reports"
WORK = REPORTS / ".evidence-build"
# DuckDB storage versions (database header) a DuckDB 1.x reader opens: 64 = v0.10/1.0 ... 67 = v1.3+
READABLE_BY_1X = range(64, 68)


def storage_version(db: Path) -> int:
    """The storage version number in a DuckDB file's main header (bytes 12..20, after 'DUCK')."""
    with db.open("rb") as f:
        head = f.read(20)
    if head[8:12] != b"DUCK":
        raise ValueError(f"{db} is not a DuckDB database")
    return int.from_bytes(head[12:20], "little")


def compatible_snapshot(snapshot: Path, work: Path) -> Path:
    """The snapshot itself when DuckDB 1.x can read it, else a v1.0.0-format copy in `work`."""
    if storage_version(snapshot) in READABLE_BY_1X:
        return snapshot
    work.mkdir(parents=True, exist_ok=True)
    target = work / "snapshot.duckdb"
    target.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{snapshot.as_posix()}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{target.as_posix()}' AS dst (STORAGE_VERSION 'v1.0.0')")
        con.execute("COPY FROM DATABASE src TO dst")
    finally:
        con.close()
    return target


def template_entries(pages_dir: Path, snapshot: Path, sources_dir: Path) -> list[str]:
    """URLs of every template page, from the pages' own params_query (as the offline renderer)."""
    con = open_snapshot(snapshot, sources_dir)
    urls: list[str] = []
    try:
        for path in sorted(pages_dir.rglob("[[]*[]].md")):
            page = parse_page(path)
            sql = str(page.frontmatter.get("params_query", "")).strip().rstrip(";")
            if not sql:
                continue
            prefix = "/" + "/".join(path.relative_to(pages_dir).parts[:-1])
            res = run_one(con, path, "params_query", sql)
            urls += [f"{prefix}/{row[0]}" for row in res.rows if row[0] is not None]
    finally:
        con.close()
    return urls


QUERY_ERROR = "Error in Query!"  # Evidence logs a failing page query and still finishes build:strict
PRERENDERED = REPORTS / ".evidence" / "template" / ".svelte-kit" / "output" / "prerendered" / "pages"


class EvidenceBuildError(RuntimeError):
    pass


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _first_page_seconds(start: float, stop: threading.Event, out: dict) -> None:
    """Seconds until the first prerendered page appears: the compile (vite) part of the build."""
    while not stop.wait(1.0):
        if PRERENDERED.is_dir() and next(PRERENDERED.rglob("*.html"), None) is not None:
            out["compile"] = round(time.monotonic() - start, 1)
            return


def _run(step: str, cmd: list[str], env: dict, timings: dict, pages: bool = False) -> None:
    """Run one npm step, echoing its output; a page query error fails the step (Evidence only logs it)."""
    print(f"== {step}: {' '.join(cmd)}", flush=True)
    start, cpu = time.monotonic(), _cpu_seconds()
    stop, phases = threading.Event(), {}
    watcher = threading.Thread(target=_first_page_seconds, args=(start, stop, phases), daemon=True)
    if pages:  # split the build's time: compile until the first prerendered page, then prerender
        watcher.start()
    errors: list[str] = []
    with subprocess.Popen(
        cmd,
        cwd=REPORTS,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            if QUERY_ERROR in line:
                errors.append(line.strip())
    stop.set()
    timings[step] = round(time.monotonic() - start, 1)
    timings[f"{step}_cpu"] = round(_cpu_seconds() - cpu, 1)
    if "compile" in phases:
        timings[f"{step}_compile"] = phases["compile"]
        timings[f"{step}_prerender"] = round(timings[step] - phases["compile"], 1)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    if errors:
        listed = "\n".join(sorted(set(errors)))
        raise EvidenceBuildError(f"{step}: {len(errors)} page query error(s):\n{listed}")


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def build(snapshot: Path, install: bool = True) -> dict:
    timings: dict[str, float] = {}
    start = time.monotonic()
    compat = compatible_snapshot(snapshot, WORK)
    timings["snapshot_v1"] = round(time.monotonic() - start, 1)
    entries = template_entries(REPORTS / "pages", compat, REPORTS / "sources")
    WORK.mkdir(parents=True, exist_ok=True)
    docs = snapshot.parent / "pages" / "dbt-docs" / "index.html"  # published with the version
    if docs.is_file():  # served as a static file by Evidence too (the 数据质量 page links it)
        (REPORTS / "static" / "dbt-docs").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(docs, REPORTS / "static" / "dbt-docs" / "index.html")
    (WORK / "entries.json").write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    source_dir = REPORTS / "sources" / "opscenter"  # Evidence resolves the filename relative to it
    env = os.environ | {
        "EVIDENCE_SOURCE__opscenter__filename": os.path.relpath(compat.resolve(), source_dir),
        "DO_NOT_TRACK": "1",
        "NODE_OPTIONS": os.environ.get("NODE_OPTIONS", "--max-old-space-size=4096"),
    }
    if install and not (REPORTS / "node_modules" / ".package-lock.json").is_file():
        # `npm install` of the committed lockfile, not `npm ci`: npm 11's ci refuses this tree because
        # @duckdb/node-bindings lists optional per-platform packages that no lockfile records
        # ("Missing: @duckdb/node-bindings-darwin-x64@ from lock file"); install takes the locked versions.
        _run("npm_install", ["npm", "install", "--no-audit", "--no-fund", "--no-save"], env, timings)
    # the postinstall patch again (idempotent): node_modules installed before the patch last changed
    _run("patch", ["node", "scripts/patch-universal-sql.cjs"], env, timings)
    _run("sources", ["npm", "run", "sources"], env, timings)
    # the last build's pages are not this one's: Evidence copies its output over reports/build
    # without clearing it (a client of an earlier publication would stay published)
    shutil.rmtree(PRERENDERED.parent.parent, ignore_errors=True)
    shutil.rmtree(REPORTS / "build", ignore_errors=True)
    _run("build_strict", ["npm", "run", "build:strict"], env, timings, pages=True)
    files, size = _size(REPORTS / "build")
    pages = len(list((REPORTS / "build").rglob("index.html")))
    result = {
        "snapshot": str(snapshot),
        "storage_version": storage_version(snapshot),
        "template_pages": len(entries),
        "html_pages": pages,
        "files": files,
        "bytes": size,
        "seconds": timings,
        "total_seconds": round(time.monotonic() - start, 1),
    }
    print(json.dumps(result, indent=2), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    current = settings.publish_dir() / "current" / "snapshot.duckdb"
    parser.add_argument("--snapshot", type=Path, default=current)
    parser.add_argument("--no-install", action="store_true", help="do not run npm install")
    args = parser.parse_args(argv)
    if not args.snapshot.is_file():
        print(f"no snapshot at {args.snapshot}: run `make demo` first", file=sys.stderr)
        return 2
    if shutil.which("npm") is None:
        print("npm not found", file=sys.stderr)
        return 2
    try:
        build(args.snapshot.resolve(), install=not args.no_install)
    except EvidenceBuildError as e:
        print(f"make evidence failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
