"""Atomic publication of one night's results: build in a hidden folder, rename, switch `current`.

Layout under `publish_root` (see docs/publication.md):
    <as_of>_<run_id>/            a complete read-only version: snapshot.duckdb, parquet/, pages/, manifest
    current -> <as_of>_<run_id>  relative symlink, replaced atomically
    current.json                 the same pointer as a file, for tools that do not follow symlinks
    .incoming-<as_of>_<run_id>/  a version being built (removed on failure, or by the next publish)
    .publish.lock                serialises publishers (flock; released by the kernel if one is killed)

Outside it, beside the warehouse (private, never published): `publish_state/<root key>/<version>.duckdb`,
the snapshot patch's state for the current version (docs/publication.md, "The patch's private state").

Every step before the rename writes only inside the hidden folder, and the rename and the symlink
replace are single atomic syscalls on one filesystem, so a crash anywhere leaves the previous
version intact and `current` pointing at it.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import fcntl
import functools
import gc
import hashlib
import json
import os
import platform
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from orchestration.publish.scanner import Prescanned, find_unmasked_personal_data, scanner_version, walk_files
from orchestration.publish.snapshot import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_SCHEMAS,
    DEFAULT_TABLES,
    Descriptions,
    Identities,
    PreviousSnapshot,
    Reusable,
    ReusablePart,
    Snapshot,
    StateFiles,
    build_snapshot,
)

MANIFEST_FORMAT = 1
CURRENT = "current"
CURRENT_JSON = "current.json"
INCOMING_PREFIX = ".incoming-"
LOCK_FILE = ".publish.lock"
SNAPSHOT = "snapshot.duckdb"
PARQUET_DIR = "parquet"
PAGES_DIR = "pages"
MANIFEST = "manifest.json"
VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}_[A-Za-z0-9][A-Za-z0-9_-]*$")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
READ_ONLY = 0o444
STATE_DIR = "publish_state"  # beside the warehouse: the snapshot patch's private state
CHECK_THREADS = 1  # DuckDB threads of the snapshot's check, beside the render (_SnapshotCheck)

Render = Callable[[Path, Path], None]
StageHook = Callable[[str], None]


class PersonalDataLeak(RuntimeError):
    """The version being built still holds unmasked personal data; it is not published."""


@dataclass(frozen=True)
class Published:
    """A version `publish_version` published: its folder and its manifest (as written to manifest.json,
    so a caller need not read ~40 MB of JSON back at 100,000 clients)."""

    folder: Path
    manifest: dict


def _collected_once(step: Callable[..., Published]) -> Callable[..., Published]:
    """`step` with Python's cyclic garbage collector off, and one full collection after it.

    The collector's passes are triggered by allocations, and each full one visits every live container:
    a publication allocates millions of objects (the current manifest parsed, the render's ~170,000
    records of pages and links at 100,000 clients, the new manifest) and keeps most of them until it
    ends, so its main process spent ~5 CPU s in 15 full collections that found nothing to free (100,000
    clients, one-day night). It makes almost no reference cycles (there, the one collection after it
    finds ~600 objects: docs/benchmarks.md, pubgc): what it drops is freed by reference counting as
    before, only the few objects in cycles wait for the end. A caller that holds the collector off
    already keeps it so (nothing is collected here then)."""

    @functools.wraps(step)
    def run(*args, **kwargs) -> Published:
        if not gc.isenabled():
            return step(*args, **kwargs)
        gc.disable()
        try:
            return step(*args, **kwargs)
        finally:  # `step`'s frame is gone: what is left to collect is what the publication let go
            gc.collect()  # before the collector is back on, so no allocation-triggered pass comes first
            gc.enable()

    return run


@_collected_once
def publish_version(
    warehouse: Path,
    publish_root: Path,
    *,
    as_of_date: str,
    run_id: str,
    code_version: str,
    checks: list[dict],
    render: Render | None = None,
    keep: int = 7,
    schemas: tuple[str, ...] = DEFAULT_SCHEMAS,
    tables: tuple[str, ...] = DEFAULT_TABLES,
    attachments: dict[str, Path] | None = None,
    verify_masking: bool = True,
    on_stage: StageHook | None = None,
    make_current: bool = False,
    descriptions: Descriptions | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    temp_dir: Path | str = "",
    identities: Identities | None = None,
) -> Published:
    """Publish the warehouse's public tables as version `<as_of_date>_<run_id>` and make it current.

    `render(snapshot, pages_dir)` writes the pages; any exception aborts the publish (nothing new
    is visible). `attachments` maps a folder name in the version to a folder copied in (e.g. the
    quality gate's data docs); `descriptions` become table/column comments in the snapshot (see
    `snapshot.dbt_descriptions`); `identities` tell which months of a table changed by its rows'
    input fingerprints (`snapshot.dbt_identities`). `memory_limit` bounds DuckDB while the snapshot
    is built and scanned; beyond it DuckDB spills to `temp_dir` (default: a hidden folder beside the
    version being built, removed afterwards). `on_stage(name)` is called at each step (tests kill the
    process there).
    A night older than the current publication (a rerun of an earlier date) is published and kept
    but does not become current unless `make_current`. Returns the final version folder and its
    manifest as written to manifest.json (`publish_run`: the folder only).
    """
    as_of = _checked_as_of(as_of_date, run_id, keep)
    stage = on_stage or (lambda _name: None)
    publish_root = Path(publish_root)
    publish_root.mkdir(parents=True, exist_ok=True)
    name = f"{as_of}_{run_id}"
    final = publish_root / name
    incoming = publish_root / f"{INCOMING_PREFIX}{name}"

    with _publish_lock(publish_root):
        _start_version(publish_root, final, incoming)
        previous = _current_manifest(publish_root)  # parsed once: ~40 MB of JSON at 100,000 clients
        known = _verified_files(publish_root, previous)
        previous_snapshot = _previous_snapshot(publish_root, known, previous)
        patched_from = previous[0] if previous_snapshot else None
        state = _state_files(Path(warehouse), publish_root, name, patched_from)
        durable = _FilesystemSync(incoming)  # opened before any write: its sync reports their errors
        check: _SnapshotCheck | None = None
        try:
            stage("snapshot")
            spill = Path(temp_dir) if temp_dir else publish_root / f"{INCOMING_PREFIX}{name}.tmp"
            reuse = _reusable_tables(publish_root, known, previous)
            snapshot = _write_snapshot(
                Path(warehouse),
                incoming,
                schemas,
                tables,
                descriptions,
                reuse=reuse,
                previous_snapshot=previous_snapshot,
                memory_limit=memory_limit,
                temp_dir=spill,
                state=state,
                identities=identities,
            )
            # the snapshot's files are final: scanned and hashed in the background while pages render
            check = _SnapshotCheck(incoming, known, snapshot, reuse, verify_masking, memory_limit)
            stage("pages")
            _write_pages(incoming, render)
            _copy_attachments(incoming, attachments or {})
            stage("manifest")
            files = _version_files(incoming, known)  # one walk, shared by the steps below
            hashed = check.result()  # raises PersonalDataLeak for the snapshot's files
            manifest = _manifest(
                incoming,
                name,
                as_of,
                run_id,
                code_version,
                checks,
                snapshot,
                _next_sequence(publish_root),
                files=files,
                hashed=hashed,
            )
            files[MANIFEST] = _write_manifest(incoming, manifest)
            stage("verify")  # every file of the version, the manifest included
            if verify_masking:  # the files written after the snapshot's: pages, attachments, manifest
                rest = {rel: f for rel, f in files.items() if rel not in check.files}
                _refuse_personal_data(incoming, known, memory_limit=memory_limit, files=rest)
            _seal(incoming, files, durable)
        except BaseException:
            if check is not None:
                check.close()  # never remove the folder under a running scan
            shutil.rmtree(incoming, ignore_errors=True)
            _remove_state(state.path)
            raise
        finally:
            if check is not None:
                check.close()
            durable.close()
        _make_visible(publish_root, incoming, manifest, make_current=make_current, keep=keep, stage=stage)
        _prune_state(state.path.parent, current_version(publish_root))
        stage("done")
    return Published(final, manifest)


def publish_run(warehouse: Path, publish_root: Path, **options) -> Path:
    """`publish_version` (same arguments), returning the final version folder only."""
    return publish_version(warehouse, publish_root, **options).folder


def _checked_as_of(as_of_date: str, run_id: str, keep: int) -> str:
    """The as-of date in ISO form, once the arguments that name and prune versions are valid."""
    as_of = dt.date.fromisoformat(as_of_date).isoformat()
    if not RUN_ID_RE.match(run_id):
        raise ValueError(f"run_id must be letters, digits, '-' or '_': {run_id!r}")
    if keep < 1:
        raise ValueError("keep must be at least 1")
    return as_of


def _start_version(publish_root: Path, final: Path, incoming: Path) -> None:
    """Under the lock: clear what a killed publisher left, refuse a name already published, and
    create the hidden folder the version is built in."""
    _clean_leftovers(publish_root)
    if final.exists():
        raise FileExistsError(f"version already published: {final}")
    incoming.mkdir()


def _write_snapshot(
    warehouse: Path,
    incoming: Path,
    schemas: tuple[str, ...],
    tables: tuple[str, ...],
    descriptions: Descriptions | None,
    *,
    reuse: dict[str, Reusable],
    memory_limit: str,
    temp_dir: Path,
    previous_snapshot: PreviousSnapshot | None = None,
    state: StateFiles | None = None,
    identities: Identities | None = None,
) -> Snapshot:
    """The read-only DuckDB snapshot and its Parquet copies, inside the version being built; DuckDB's
    spill folder `temp_dir` is removed afterwards (a killed run's is cleared by the next publish)."""
    try:
        snapshot = build_snapshot(
            warehouse,
            incoming / SNAPSHOT,
            incoming / PARQUET_DIR,
            schemas=tuple(schemas),
            tables=tuple(tables),
            descriptions=descriptions,
            reuse=reuse,
            memory_limit=memory_limit,
            temp_directory=temp_dir,
            previous_snapshot=previous_snapshot,
            state=state,
            identities=identities,
        )
    finally:
        if temp_dir.name.startswith(INCOMING_PREFIX):  # our own, not a configured shared folder
            shutil.rmtree(temp_dir, ignore_errors=True)
    os.chmod(incoming / SNAPSHOT, READ_ONLY)
    return snapshot


def _reusable_tables(
    publish_root: Path, known: dict[tuple[int, int], dict], previous: tuple[str | None, dict] | None = None
) -> dict[str, Reusable]:
    """The current version's tables with their verified Parquet parts (`known`: sealed, same size,
    scanned by this scanner): the snapshot hard-links such a part instead of writing it again when the
    table's part holds the same rows, and every part when the table's source fingerprint is unchanged
    (`complete`: all its parts verified), so what did not change costs neither time nor space.
    `previous`: the current version's name and manifest, when read already. A manifest of the
    one-file-per-table layout (no `parts`) offers nothing: that night writes every part."""
    name, manifest = previous if previous is not None else _current_manifest(publish_root)
    manifest = manifest if known else {}
    reuse = {}
    for t in manifest.get("tables", []):
        if not (t.get("source_fingerprint") and t.get("fingerprint") and t.get("parts")):
            continue
        parts = {}
        for part in t["parts"]:
            path = publish_root / name / part["file"]
            if path.is_file() and _known(path, known) is not None:
                total = None if part.get("sum") is None else int(part["sum"])
                parts[part["part"]] = ReusablePart(path, int(part["rows"]), total, part["fingerprint"])
        complete = len(parts) == len(t["parts"])
        reuse[t["name"]] = Reusable(t["source_fingerprint"], t["fingerprint"], parts, complete)
    return reuse


def _part_sums(incoming: Path, snapshot: Snapshot) -> dict[Path, tuple[int, int | None]]:
    """Per Parquet part file of the version: the rows and row-hash sum its table's hash pass gave
    (a linked part: the same as recorded for it by the version it comes from). The scanner reads
    every new part to check it holds exactly that, and adds the linked parts' to match the table's
    whole fingerprint without reading them (scanner.find_unmasked_personal_data)."""
    return {
        incoming / part["file"]: (part["rows"], None if part["sum"] is None else int(part["sum"]))
        for t in snapshot.tables
        for part in t.parts
    }


def _previous_snapshot(
    publish_root: Path, known: dict[tuple[int, int], dict], previous: tuple[str | None, dict]
) -> PreviousSnapshot | None:
    """The current version's snapshot file, when verified (`known`: sealed, same size, scanned by
    this scanner): the new snapshot starts as a copy of it and patches the changed tables."""
    name, manifest = previous
    path = publish_root / name / SNAPSHOT if name else None
    if path is None or not path.is_file() or _known(path, known) is None:
        return None
    return PreviousSnapshot(path, int(manifest.get("snapshot_base_bytes") or 0))


def _state_files(warehouse: Path, publish_root: Path, name: str, previous: str | None) -> StateFiles:
    """The snapshot patch's private state of version `name` and of the `previous` one (None: the
    snapshot is not patched). Kept beside the warehouse, whose access rules it shares: it holds
    hashes of unmasked rows, never to be published (docs/publication.md, "The patch's private
    state"); one folder per publish root, so two roots fed from one warehouse keep theirs apart."""
    key = hashlib.sha256(str(publish_root.resolve()).encode()).hexdigest()[:16]
    folder = warehouse.resolve().parent / STATE_DIR / key
    return StateFiles(folder / f"{name}.duckdb", folder / f"{previous}.duckdb" if previous else None)


def _remove_state(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        try:
            leftover.unlink(missing_ok=True)
        except OSError:  # e.g. no state folder could be made: nothing to remove
            pass


def _prune_state(folder: Path, current: str | None) -> None:
    """Keep only the current version's state file (the one the next night patches from)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if current is None or entry.name not in (f"{current}.duckdb", f"{current}.duckdb.wal"):
            entry.unlink(missing_ok=True)


def _write_pages(incoming: Path, render: Render | None) -> None:
    pages_dir = incoming / PAGES_DIR
    pages_dir.mkdir()
    if render is not None:
        render(incoming / SNAPSHOT, pages_dir)


def _copy_attachments(incoming: Path, attachments: dict[str, Path]) -> None:
    """Copy each source folder in as `<folder name>/`; a missing source is skipped."""
    for folder_name, source in attachments.items():
        if "/" in folder_name or folder_name.startswith(".") or folder_name in _RESERVED:
            raise ValueError(f"bad attachment folder name: {folder_name!r}")
        if Path(source).is_dir():
            shutil.copytree(source, incoming / folder_name)


SUM_DIGITS = 40  # a part's hash sum in the manifest, zero-padded: no run of exactly 18 digits


def _manifest_part(part: dict) -> dict:
    """A Parquet part's manifest entry with its hash sum zero-padded to SUM_DIGITS digits. A sum is a
    decimal of up to 39 digits; one of exactly 18 (a part of one row whose hash is below 10^18, one
    in twenty) would read as an unmasked credit code to the personal-data scan, which reads the
    manifest like every other file of the version, and refuse the night. Readers take `int()` of it,
    so padded and unpadded (older versions') sums read the same."""
    if part.get("sum") is None:
        return part
    return {**part, "sum": part["sum"].zfill(SUM_DIGITS)}


def _current_manifest(publish_root: Path) -> tuple[str | None, dict]:
    """The current version's name and manifest ({} before the first publish or if unreadable)."""
    name = current_version(publish_root)
    return name, ((_read_json(publish_root / name / MANIFEST) or {}) if name else {})


def _verified_files(
    publish_root: Path, previous: tuple[str | None, dict] | None = None
) -> dict[tuple[int, int], dict]:
    """The current version's files by (device, inode) -> their manifest entry, when that version was
    scanned by the same scanner_version. A file of the new version with one of these inodes is a
    hard link to it (an unchanged page or data file, render/site.py): same bytes, sealed read-only,
    already scanned clean and hashed, so neither is done again and publication time follows what
    changed. Empty before the first publish or after a scanner change (everything is scanned).
    `previous`: the current version's name and manifest, when read already."""
    name, manifest = previous if previous is not None else _current_manifest(publish_root)
    if not manifest or manifest.get("scanner") != scanner_version():
        return {}
    known = {}
    base = f"{publish_root / name}/"
    for rel, meta in manifest.get("files", {}).items():
        try:
            st = os.stat(base + rel)
        except OSError:
            continue
        if st.st_size == meta["bytes"] and not st.st_mode & 0o222:  # still sealed, same size
            known[(st.st_dev, st.st_ino)] = meta
    return known


def _known(path: Path, known: dict[tuple[int, int], dict]) -> dict | None:
    st = path.stat()
    return known.get((st.st_dev, st.st_ino))


class _SnapshotCheck:
    """The snapshot's files (snapshot.duckdb and its Parquet parts), once written, scanned for personal
    data and hashed for the manifest in a background thread while the pages render. Rendering is
    mostly single-threaded Python and the scan is DuckDB queries (which release the GIL), so the scan
    takes the core the renderer leaves idle instead of running after it. Nothing writes into these
    files after the snapshot step (pages attach the snapshot read-only), so what the thread reads is
    what is sealed. The scan and its verdict are those of one pass after the pages: `result()` raises
    `PersonalDataLeak` for the snapshot's files; the files written later are scanned after the
    manifest, as before. Its DuckDB runs on one thread (`CHECK_THREADS`): the render's processes
    have the cores, and a second scan thread only contended with them (100,000 clients, one-day
    night: 4.0 CPU s against 4.5 with two; docs/benchmarks.md, pubday); the whole check then runs on
    its own thread, whose CPU clock is what it costs."""

    def __init__(
        self,
        incoming: Path,
        known: dict[tuple[int, int], dict],
        snapshot: Snapshot,
        reuse: dict[str, Reusable],
        verify: bool,
        memory_limit: str,
    ) -> None:
        self.files = _version_files(incoming, known)  # only the snapshot's files exist yet
        scan = None
        if verify:
            baselines = {table: r.files for table, r in reuse.items() if r.files}  # scanned clean then
            prescanned = {
                t.name: Prescanned(t.rows, t.fingerprint, t.new_rows_findings)
                for t in snapshot.tables
                if t.new_rows_findings is not None
            }
            scan = functools.partial(
                _refuse_personal_data,
                incoming,
                known,
                memory_limit=memory_limit,
                files=self.files,
                baselines=baselines,
                prescanned={incoming / SNAPSHOT: prescanned},
                parquet_sums=_part_sums(incoming, snapshot),
                threads=CHECK_THREADS,
            )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish-snapshot-check")
        self._future = self._pool.submit(self._run, scan)

    def _run(self, scan: Callable[[], None] | None) -> dict[str, str]:
        if scan is not None:
            scan()
        return {rel: _sha256(f.path) for rel, f in self.files.items() if not f.symlink and not f.linked}

    def result(self) -> dict[str, str]:
        """The sha256 of each new file of the snapshot's, once the scan found them all clean."""
        return self._future.result()

    def close(self) -> None:
        """Wait for the thread: it must not be reading a folder being removed."""
        self._pool.shutdown(wait=True)


def _refuse_personal_data(
    incoming: Path,
    known: dict[tuple[int, int], dict] | None = None,
    *,
    memory_limit: str | None = None,
    files: dict[str, VersionFile] | None = None,
    baselines: dict[str, list[Path]] | None = None,
    prescanned: dict[Path, dict[str, Prescanned]] | None = None,
    parquet_sums: dict[Path, tuple[int, int | None]] | None = None,
    threads: int | None = None,
) -> None:
    """Scan every file of the version not hard-linked from the verified previous one (`files`: the
    walk `_version_files` made, so the linked files are known without a stat each); a snapshot table
    with `baselines` files (its verified Parquet parts in that version) is scanned in its new rows;
    `parquet_sums`: what each Parquet part holds by the builder (`_part_sums`); `threads`: DuckDB's
    threads of the scan (default: one per core)."""
    known = known or {}
    if files is None:
        files = _version_files(incoming, known)
    # a linked Parquet part still goes in, unread: its recorded sums complete its table's fingerprint
    look = [f for f in files.values() if not f.symlink and (f.linked is None or f.path.suffix == ".parquet")]
    linked = {f.path for f in look if f.linked is not None}
    leaks = find_unmasked_personal_data(
        incoming,
        skip=linked.__contains__,
        memory_limit=memory_limit,
        files=[f.path for f in look],
        baselines=baselines,
        prescanned=prescanned,
        parquet_sums=parquet_sums,
        threads=threads,
    )
    if leaks:
        raise PersonalDataLeak("unmasked personal data, not published: " + "; ".join(leaks[:20]))


def _make_visible(
    publish_root: Path, incoming: Path, manifest: dict, *, make_current: bool, keep: int, stage: StageHook
) -> None:
    """Rename the sealed version into place, switch `current` unless it is an older night, prune."""
    name = manifest["version"]
    stage("rename")
    os.rename(incoming, publish_root / name)
    _fsync_dir(publish_root)
    if make_current or not _older_than_current(publish_root, manifest["as_of_date"]):
        stage("switch")
        _switch_current(publish_root, name)
        stage("current_json")
        _write_current_json(publish_root, manifest)
    stage("retention")
    apply_retention(publish_root, keep)


class RollbackError(RuntimeError):
    """The requested version cannot be made current (unknown, already current, or damaged)."""


def verify_version(publish_root: Path, name: str) -> list[str]:
    """Files of a published version that are missing or differ from its manifest's checksums."""
    folder = Path(publish_root) / name
    manifest = _read_json(folder / MANIFEST)
    if manifest is None:
        return [f"{name}/{MANIFEST}: missing or unreadable"]
    problems = []
    for rel, meta in manifest.get("files", {}).items():
        path = folder / rel
        if not path.is_file():
            problems.append(f"{name}/{rel}: missing")
        elif path.stat().st_size != meta["bytes"] or _sha256(path) != meta["sha256"]:
            problems.append(f"{name}/{rel}: changed since publication")
    return problems


def rollback(publish_root: Path, to: str | None = None) -> tuple[str | None, str]:
    """Point `current` at an earlier kept version: `to`, or the one published just before the current.

    For a night whose numbers turn out wrong after the gate let them through. The switch is the same
    atomic symlink replace as a publish, under the publish lock; the target is checked against its
    manifest's checksums first. The next green night publishes over it as usual. Returns
    (previous current, new current).
    """
    publish_root = Path(publish_root)
    with _publish_lock(publish_root):
        _clean_leftovers(publish_root)
        versions = published_versions(publish_root)
        current = current_version(publish_root)
        if to is None:
            earlier = versions[: versions.index(current)] if current in versions else []
            if not earlier:
                raise RollbackError("没有更早的版本可回滚 no earlier version is kept")
            to = earlier[-1]
        if to not in versions:
            raise RollbackError(f"版本不存在 no such version: {to} (kept: {', '.join(versions)})")
        if to == current:
            raise RollbackError(f"已是当前版本 already current: {to}")
        problems = verify_version(publish_root, to)
        if problems:
            raise RollbackError("版本文件已损坏 damaged version: " + "; ".join(problems[:10]))
        manifest = _read_json(publish_root / to / MANIFEST)
        _switch_current(publish_root, to)
        _write_current_json(publish_root, manifest)
    return current, to


_RESERVED = {SNAPSHOT, PARQUET_DIR, PAGES_DIR, MANIFEST}


@contextmanager
def _publish_lock(publish_root: Path) -> Iterator[None]:
    """One publisher at a time per folder; makes removing another run's `.incoming-*` safe."""
    with open(publish_root / LOCK_FILE, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _clean_leftovers(publish_root: Path) -> None:
    """Remove what a killed publisher left: half-built folders and temporary pointers; repair
    `current.json` if a crash came between the symlink switch and the file write."""
    for entry in publish_root.iterdir():
        if entry.name.startswith(INCOMING_PREFIX):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        elif entry.name.startswith(f"{CURRENT}.tmp-") or entry.name.startswith(f".{CURRENT_JSON}.tmp-"):
            entry.unlink(missing_ok=True)
    target = current_version(publish_root)
    if target is not None:
        pointer = _read_json(publish_root / CURRENT_JSON)
        if not pointer or pointer.get("version") != target:
            manifest = _read_json(publish_root / target / MANIFEST)
            if manifest:
                _write_current_json(publish_root, manifest)


def current_as_of(publish_root: Path) -> str | None:
    """The as-of date of the current publication, or None before the first publish."""
    pointer = _read_json(Path(publish_root) / CURRENT_JSON) or {}
    return pointer.get("as_of_date") if current_version(publish_root) else None


def _older_than_current(publish_root: Path, as_of: str) -> bool:
    current = current_as_of(publish_root)
    return current is not None and as_of < current


def check_writable(publish_root: Path) -> None:
    """Raise PermissionError (with the folder) unless a version could be written under `publish_root`.

    Called at the start of the night, so a read-only or full publish folder is found before the work."""
    publish_root = Path(publish_root)
    try:
        publish_root.mkdir(parents=True, exist_ok=True)
        probe = publish_root / f"{INCOMING_PREFIX}probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"ok")
        probe.unlink(missing_ok=True)  # a concurrent publisher may have cleaned it up
    except OSError as exc:
        raise PermissionError(f"发布目录不可写 publish folder not writable: {publish_root} ({exc})") from exc


def current_version(publish_root: Path) -> str | None:
    """The version name `current` points at, or None before the first publish."""
    link = Path(publish_root) / CURRENT
    if not link.is_symlink():
        return None
    target = os.readlink(link)
    return Path(target).name if (Path(publish_root) / target).is_dir() else None


def published_versions(publish_root: Path) -> list[str]:
    """Complete versions (folder with a manifest), oldest first: by publish sequence, then name."""
    found = []
    for entry in Path(publish_root).iterdir():
        if entry.is_dir() and not entry.is_symlink() and VERSION_RE.match(entry.name):
            order = _publish_order(entry / MANIFEST)
            if order is not None:
                found.append((*order, entry.name))
    return [name for *_, name in sorted(found)]


def _publish_order(manifest_path: Path) -> tuple[int, str] | None:
    """(sequence, created_at) of a version's manifest, None without a readable one: from its first
    bytes (`_order_from_head`; a 100,000-client manifest is ~40 MB of JSON, and every publish orders
    all kept versions twice: sequence and retention), else parsed whole; once per process either
    way, a sealed manifest never changes."""
    try:
        st = manifest_path.stat()
    except OSError:
        return None
    return _parsed_order(str(manifest_path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _parsed_order(path: str, _dev: int, _ino: int, _size: int, _mtime_ns: int) -> tuple[int, str] | None:
    order = _order_from_head(Path(path))
    if order is not None:
        return order
    manifest = _read_json(Path(path))
    return None if manifest is None else (manifest.get("sequence", 0), manifest.get("created_at", ""))


ORDER_HEAD_BYTES = 4096
# `_write_json` indents by two: a top-level key is a line starting with exactly two spaces (a JSON
# string holds no raw newline, so nothing nested or quoted looks like one)
_HEAD_SEQUENCE = re.compile(r'\n  "sequence": (\d+),?\n')
_HEAD_CREATED_AT = re.compile(r'\n  "created_at": ("(?:[^"\\\n]|\\.)*"),?\n')


def _order_from_head(path: Path) -> tuple[int, str] | None:
    """(sequence, created_at) from the first bytes of a manifest written by `_write_json`, where
    both come before the tables and files (`_manifest`'s key order), instead of parsing it all (~40 MB
    at 100,000 clients, for every kept version each night); None when they are not there."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(ORDER_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    sequence, created = _HEAD_SEQUENCE.search(head), _HEAD_CREATED_AT.search(head)
    if not (head.startswith("{\n") and sequence and created):
        return None
    try:
        return int(sequence[1]), json.loads(created[1])
    except json.JSONDecodeError:
        return None


def apply_retention(publish_root: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` versions, never the current one. Returns the deleted names.

    A BI session with a deleted snapshot open keeps reading it: unlinking does not affect open files.
    """
    versions = published_versions(publish_root)
    current = current_version(publish_root)
    doomed = [v for v in versions[: max(len(versions) - keep, 0)] if v != current]
    for name in doomed:
        # rename first so a half-deleted folder is never mistaken for a version
        trash = publish_root / f"{INCOMING_PREFIX}deleting-{name}-{uuid.uuid4().hex[:8]}"
        os.rename(publish_root / name, trash)
        shutil.rmtree(trash, ignore_errors=True)
    if doomed:
        _fsync_dir(publish_root)
    return doomed


def _next_sequence(publish_root: Path) -> int:
    versions = published_versions(publish_root)
    seqs = [(_publish_order(publish_root / v / MANIFEST) or (0,))[0] for v in versions]
    return max(seqs, default=0) + 1


class VersionFile(NamedTuple):
    """A file of the version being built, as one walk saw it. A tuple with its path as the walk's
    string (`path` makes the Path when asked): ~172,000 of them at 100,000 clients, most of them
    hard links whose path nothing reads."""

    where: str  # the file's path
    bytes: int
    symlink: bool  # a symlink to a file: listed in the manifest, neither scanned nor sealed
    linked: dict | None  # the previous version's manifest entry when it is a hard link to that file

    @property
    def path(self) -> Path:
        return Path(self.where)


def _version_files(folder: Path, known: dict[tuple[int, int], dict] | None = None) -> dict[str, VersionFile]:
    """Every file under `folder` (symlinked folders not entered, as `Path.rglob`), by relative path in
    sorted order: one directory read per folder and one stat per file, whatever the number of steps
    that need them (manifest, scan, seal)."""
    known = known or {}
    found: dict[str, VersionFile] = {}
    for rel, entry in walk_files(folder):
        st = entry.stat()  # the file's (a symlink's target's) inode and size
        symlink = entry.is_symlink()
        linked = None if symlink else known.get((st.st_dev, st.st_ino))
        found[rel] = VersionFile(entry.path, st.st_size, symlink, linked)
    return dict(sorted(found.items()))


def _new_file(path: Path) -> VersionFile:
    return VersionFile(str(path), path.stat().st_size, False, None)


def _write_manifest(incoming: Path, manifest: dict) -> VersionFile:
    """The version's manifest.json, written whole and synced; its entry among the version's files."""
    _write_json(incoming / MANIFEST, manifest, text=_manifest_text(manifest))
    return _new_file(incoming / MANIFEST)


def _manifest_text(manifest: dict) -> str | None:
    """The manifest as `_write_json` spells it (two-space indent, UTF-8 text), by orjson when it is
    installed (dagster-dbt's dependency): json's indenting encoder is pure Python, 0.66 s for the
    37 MB of a 100,000-client manifest against 0.09 s, the same bytes (docs/benchmarks.md, pubfixed:
    the manifest holds strings, ints, booleans, nulls, lists and dicts; a float, which it has none
    of, could be spelled otherwise, e.g. 1e-05 / 1e-5, the same number). None (json then) without
    orjson or when it refuses (an int beyond 64 bits)."""
    try:
        import orjson
    except ImportError:
        return None
    try:
        return orjson.dumps(manifest, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        return None


def _manifest(
    folder,
    name,
    as_of,
    run_id,
    code_version,
    checks,
    snapshot,
    sequence,
    known=None,
    *,
    files=None,
    hashed=None,
) -> dict:
    """The version's manifest; a file hard-linked from the previous version (`known`) keeps its
    recorded hash instead of being read again. `files`: the version's `_version_files`, when walked;
    `hashed`: sha256 of files hashed already (relative path -> hex digest, _SnapshotCheck)."""
    files = files if files is not None else _version_files(folder, known)
    hashed = hashed or {}
    pages = [rel for rel in files if rel.startswith(f"{PAGES_DIR}/")]
    checksums = {rel: {"sha256": _hash(rel, f, hashed), "bytes": f.bytes} for rel, f in files.items()}
    return {
        "format": MANIFEST_FORMAT,
        "version": name,
        "sequence": sequence,
        "as_of_date": as_of,
        "run_id": run_id,
        "code_version": code_version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "snapshot": SNAPSHOT,
        "tables": [
            {
                "name": t.name,
                "rows": t.rows,
                "parquet": t.parquet,
                "parts_by": t.parts_by,
                "parts": [_manifest_part(part) for part in t.parts],
                "columns": t.columns,
                "masked_columns": t.masked_by_name,
                "pattern_masked_columns": t.masked_by_pattern,
                "source_fingerprint": t.source_fingerprint,
                "fingerprint": t.fingerprint,
                "reused": t.reused,
                **({"patched": t.patched} if t.patched is not None else {}),
            }
            for t in snapshot.tables
        ],
        "snapshot_patched_from": snapshot.patched_from and Path(snapshot.patched_from).parent.name,
        "snapshot_base_bytes": snapshot.base_bytes,
        "missing_tables": snapshot.missing_tables,
        "checks": [_check(c) for c in checks],
        "pages": pages,
        "page_summary": _page_summary(pages),
        "scanner": scanner_version(),
        "files": checksums,
    }


def _page_summary(pages: list[str]) -> dict[str, int]:
    """What `pages` holds: HTML pages (a template page is one shell), the template pages' per-key
    data files (render/site.py: <folder>/data/<key>.js), and everything else (assets, dbt docs...)."""
    html = sum(p.endswith(".html") for p in pages)
    data = sum(p.endswith(".js") and p.rsplit("/", 2)[-2:-1] == ["data"] for p in pages)
    return {
        "files": len(pages),
        "html_pages": html,
        "key_data_files": data,
        "other_files": len(pages) - html - data,
    }


def _check(c: dict) -> dict:
    out = {k: c.get(k) for k in ("name", "severity", "status", "message")}
    out.update({k: v for k, v in c.items() if k not in out})
    return out


def _hash(rel: str, f: VersionFile, hashed: dict[str, str]) -> str:
    return f.linked["sha256"] if f.linked else hashed.get(rel) or _sha256(f.path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _seal(
    folder: Path, files: dict[str, VersionFile] | None = None, durable: _FilesystemSync | None = None
) -> None:
    """Make every new file read-only and the whole folder durable before it becomes visible.

    A file hard-linked from the previous version is that version's sealed inode (`_verified_files`
    checked it is read-only): neither chmod-ed nor synced again. Durability is one `syncfs(2)` of the
    filesystem (see `_FilesystemSync`) instead of an fsync per file and folder: the same guarantee —
    every byte, inode and directory entry written so far is on stable storage — for one journal
    commit instead of one per file (docs/publication.md, "Sealing")."""
    files = files if files is not None else _version_files(folder)
    new = [f.path for f in files.values() if f.linked is None and not f.symlink]
    for path in new:
        _make_read_only(path)
    sync = durable or _FilesystemSync(folder)
    try:
        if sync.reports_errors:
            sync.sync()
        else:  # no syncfs, or a kernel whose syncfs does not report write-back errors
            for path in new:
                _fsync_file(path)
            for directory in sorted(_folders_of(new, folder), key=lambda p: -len(p.parts)):
                _fsync_dir(directory)
    finally:
        if durable is None:
            sync.close()


def _folders_of(paths: list[Path], top: Path) -> set[Path]:
    """`top` and every folder between it and one of `paths` (each holds a new directory entry)."""
    folders = {top}
    for path in paths:
        parent = path.parent
        while parent not in folders and parent != parent.parent:
            folders.add(parent)
            parent = parent.parent
    return folders


def _make_read_only(path: Path) -> None:
    os.chmod(path, READ_ONLY)


class _FilesystemSync:
    """`syncfs(2)` of the filesystem holding `folder`, through a descriptor opened when the object is
    made. Since Linux 5.8 syncfs returns a write-back error that happened on the filesystem after the
    descriptor was opened, so opening it before the version's first write means no failed write of
    the version goes unreported; `reports_errors` is false on older kernels and without syncfs, and
    the seal then falls back to an fsync per new file and folder."""

    def __init__(self, folder: Path):
        self._fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        self.reports_errors = _syncfs() is not None and _kernel_at_least(5, 8)

    def sync(self) -> None:
        syncfs = _syncfs()
        if syncfs is None:
            raise OSError("syncfs is not available")
        if syncfs(self._fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs: {os.strerror(err)}")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _kernel_at_least(major: int, minor: int) -> bool:
    if platform.system() != "Linux":
        return False
    found = re.match(r"(\d+)\.(\d+)", platform.release())
    return bool(found) and (int(found[1]), int(found[2])) >= (major, minor)


@functools.cache
def _syncfs():
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    except OSError:
        return None


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _switch_current(publish_root: Path, name: str) -> None:
    tmp = publish_root / f"{CURRENT}.tmp-{uuid.uuid4().hex}"
    os.symlink(name, tmp)  # relative target: the folder can be moved or mounted elsewhere
    os.replace(tmp, publish_root / CURRENT)
    _fsync_dir(publish_root)


def _write_current_json(publish_root: Path, manifest: dict) -> None:
    name = manifest["version"]
    _write_json(
        publish_root / CURRENT_JSON,
        {
            "version": name,
            "as_of_date": manifest["as_of_date"],
            "run_id": manifest["run_id"],
            "created_at": manifest["created_at"],
            "path": name,
            "snapshot": f"{name}/{SNAPSHOT}",
            "manifest": f"{name}/{MANIFEST}",
        },
    )


def _write_json(path: Path, data: dict, *, text: str | None = None) -> None:
    """Write via a temp file + fsync + replace, so readers see the old or the new file, never half.
    `text`: `data` already encoded so (`_manifest_text`)."""
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    if text is None:
        text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    with open(tmp, "w", encoding="utf-8") as fh:  # encoded whole, then one write (json.dump: one per token)
        fh.write(text + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
