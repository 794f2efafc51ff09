"""Run the real dbt project against a throw-away DuckDB warehouse (shared by the dbt-backed tests).

dbt runs as a subprocess of this interpreter's own `dbt` CLI, the same command dagster-dbt's
DbtCliResource issues: the warehouse path goes in through the environment without touching
os.environ, DuckDB's file lock is released when dbt exits, and target/log paths live under the
caller's tmp dir so parallel test runs never share artifacts.

Parsing the project costs ~10 s of CPU per dbt command, and the parse does not depend on the run date
or on the warehouse's folder (only on the project's files and the DuckDB file's name, which is the
database name in every relation; tests/test_dbt_helpers.py checks it). So a dbt command with a run
date is run on a manifest parsed once per project state and database name (`parsed_manifest`, cached
in the system temp folder, shared by the xdist workers) through the fork server of
tests/dbt_with_manifest.py (one per test worker: dbt imported and each manifest read once, every command
in a forked child of its own); `dbt parse` itself and a call without vars still run the plain CLI.
"""

from __future__ import annotations

import atexit
import datetime as dt
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import duckdb

from orchestration.raw_schema import create_raw_schema
from orchestration.settings import DBT_PROJECT_DIR

DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
DBT_WITH_MANIFEST = Path(__file__).with_name("dbt_with_manifest.py")
# what a parse reads besides the project's files: dbt and its adapter, and the project's own place
_PARSE_INPUTS = ("dbt-core", "dbt-duckdb", "dbt-adapters")


class DbtRunError(RuntimeError):
    """dbt exited non-zero; the message carries its full console output."""


ML_MODELS = ("renewal_model_evaluation", "renewal_scores")  # dbt_project/models/ml (Python models)


def without_ml_models(args: Sequence[str]) -> list[str]:
    """`--exclude path:models/ml` for a build or run that does not name an ml model: the tests give the
    renewal model's output themselves (hand-made, or renewal.train_and_score + ml_tables.write_table),
    and a `+mart` selection would otherwise rebuild it from their tiny firms."""
    if not args or args[0] not in ("build", "run") or "--exclude" in args:
        return []
    named = any(a.strip("+") in ML_MODELS or "models/ml" in a for a in args)
    return [] if named else ["--exclude", "path:models/ml"]


def run_dbt(
    args: list[str], warehouse: Path, as_of: str | None, target_path: Path
) -> subprocess.CompletedProcess:
    """Run `dbt <args>` for `as_of` (YYYY-MM-DD) against the DuckDB file `warehouse`.

    `as_of=None` passes no vars at all (only to check that dbt refuses to run without them).

    Artifacts (manifest, run_results.json) go to `target_path`, logs to `target_path/logs`.
    Raises DbtRunError with dbt's output when dbt fails (a failing test fails the call too).
    """
    target_path = Path(target_path).resolve()
    target_path.mkdir(parents=True, exist_ok=True)
    warehouse = Path(warehouse).resolve()
    env = {
        **os.environ,
        "OPSCENTER_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PARTIAL_PARSE": "false",
        # the renewal model's dbt Python models read the date here (they see no var when they run)
        **({"DBT_AS_OF_DATE": as_of} if as_of is not None else {}),
    }
    cmd = [
        "--no-use-colors",
        *args,
        *without_ml_models(args),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
        *(["--vars", json.dumps({"as_of_date": as_of})] if as_of is not None else []),
    ]
    if as_of is not None and args[0] != "parse":
        # in the project folder, as dagster-dbt runs dbt (the profile's module_paths: the repository root)
        proc = _SERVER.run(parsed_manifest(warehouse.stem), cmd, env, DBT_PROJECT_DIR, target_path)
    else:
        cli = [str(DBT_EXECUTABLE), *cmd]
        proc = subprocess.run(cli, env=env, capture_output=True, text=True, cwd=target_path)
    if proc.returncode != 0:
        raise DbtRunError(
            f"dbt {' '.join(args)} failed (exit {proc.returncode}) for as_of={as_of}:\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
    return proc


class _DbtServer:
    """This test worker's dbt fork server (tests/dbt_with_manifest.py --serve), started on first use:
    dbt is imported and each manifest read once per worker, every command runs in a forked child."""

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def run(
        self, manifest: Path, args: list[str], env: dict, cwd: Path, out_dir: Path
    ) -> subprocess.CompletedProcess:
        output = Path(out_dir) / f".dbt-output-{uuid.uuid4().hex}.txt"
        request = {"manifest": str(manifest), "args": args, "env": env}
        request |= {"cwd": str(cwd), "output": str(output)}
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                # -P: tests/ not on sys.path, where dbt's plugin scan would import every dbt_* module it finds
                self._proc = subprocess.Popen(
                    [sys.executable, "-P", str(DBT_WITH_MANIFEST), "--serve"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                    env={k: v for k, v in env.items() if k != "OPSCENTER_WAREHOUSE"},
                )  # fmt: skip
                atexit.register(self._stop, self._proc)
            self._proc.stdin.write(json.dumps(request) + "\n")
            reply = self._proc.stdout.readline()
        if not reply:
            raise DbtRunError(f"the dbt fork server died (exit {self._proc.poll()})")
        text = output.read_text(errors="replace") if output.exists() else ""
        output.unlink(missing_ok=True)
        return subprocess.CompletedProcess(args, json.loads(reply)["returncode"], text, "")

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        proc.stdin.close()  # the server ends at the end of its input
        proc.wait(timeout=60)


_SERVER = _DbtServer()


def parse_key(database: str, project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A hash of everything a parse reads: the project's files, its place, dbt and its adapter's
    versions, and the database name; a changed model, macro or yml gives another key."""
    digest = hashlib.sha256(f"{project_dir.resolve()}\0{database}\0{sys.executable}".encode())
    for package in _PARSE_INPUTS:
        digest.update(f"\0{package}={version(package)}".encode())
    for path in sorted(project_dir.rglob("*")):
        rel = path.relative_to(project_dir)
        if path.is_file() and rel.parts[0] not in ("target", "logs") and path.name != ".user.yml":
            digest.update(f"\0{rel}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:24]


def parsed_manifest(database: str) -> Path:
    """dbt's partial-parse file of the project as it is now, for a DuckDB file named `<database>.duckdb`:
    parsed once per parse_key (`dbt parse`, under a file lock) into the system temp folder."""
    folder = Path(tempfile.gettempdir()) / f"opscenter-dbt-manifest-{os.getuid()}" / parse_key(database)
    parsed = folder / "target" / "partial_parse.msgpack"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other xdist worker waits for this parse, not a second one
        if not parsed.exists():
            scratch = folder / "scratch"
            scratch.mkdir(exist_ok=True)
            env = {**os.environ, "OPSCENTER_WAREHOUSE": str(scratch / f"{database}.duckdb"),
                   "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PARTIAL_PARSE": "true"}  # fmt: skip
            cmd = [str(DBT_EXECUTABLE), "--no-use-colors", "parse", "--project-dir", str(DBT_PROJECT_DIR),
                   "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(scratch / "target"),
                   "--log-path", str(scratch / "logs"),
                   "--vars", json.dumps({"as_of_date": "2000-01-01"})]  # fmt: skip
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=scratch)
            if proc.returncode != 0:
                raise DbtRunError(f"dbt parse failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
            (scratch / "target").rename(folder / "target")
    return parsed


def build_warehouse(tmp: Path, as_of: str, select: Sequence[str], raw: Mapping[str, Iterable[dict]]) -> Path:
    """A hand-made firm: `raw` rows (entity -> rows) in a fresh `tmp/warehouse.duckdb`, built by
    `dbt build --select <select>` (cautious indirect selection) for `as_of`; returns the file's path."""
    path = Path(tmp) / "warehouse.duckdb"
    conn = new_raw_warehouse(path)
    for entity, rows in raw.items():
        insert_rows(conn, entity, list(rows))
    conn.close()
    args = ["build", "--select", *select, "--indirect-selection", "cautious"]
    run_dbt(args, path, as_of, Path(tmp) / "target")
    return path


def read_only_warehouse(
    tmp: Path, as_of: str, select: Sequence[str], raw: Mapping[str, Iterable[dict]]
) -> Iterator[duckdb.DuckDBPyConnection]:
    """build_warehouse, then a read-only connection for a module fixture to `yield from`."""
    with duckdb.connect(str(build_warehouse(tmp, as_of, select, raw)), read_only=True) as conn:
        yield conn


def query(warehouse: Path, sql: str, params: Sequence | None = None) -> list[tuple]:
    """Rows of `sql` on the warehouse file, opened read-only."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def new_raw_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A fresh DuckDB file with the empty raw schema; the caller inserts rows and closes it."""
    conn = duckdb.connect(str(path))
    create_raw_schema(conn)
    return conn


def insert_rows(conn: duckdb.DuckDBPyConnection, entity: str, rows: list[dict]) -> None:
    """Insert hand-made rows into raw.<entity>; missing columns stay NULL, lineage is filled in."""
    for line, row in enumerate(rows, start=2):
        row = {"_source_file": f"{entity}/test.csv", "_source_line": line, "_extra": "{}", **row}
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        conn.execute(f"INSERT INTO raw.{entity} ({cols}) VALUES ({marks})", list(row.values()))


# Hand-made raw rows with the defaults most scenarios share; a test passes only what its story is
# about (dates as 'YYYY-MM-DD', amounts as strings) and overrides the rest by keyword.
def accountant_row(*, updated_at, staff_id="S1", staff_name="张会计", team="一部", **fields) -> dict:
    return {"staff_id": staff_id, "staff_name": staff_name, "role": "accountant", "team": team,
            "updated_at": updated_at, **fields}  # fmt: skip


def client_row(client_id: str, client_name: str, *, updated_at, **fields) -> dict:
    return {
        "client_id": client_id,
        "client_name": client_name,
        "taxpayer_type": "small_scale",
        "industry": "tech",
        "signed_date": dt.date(2023, 1, 1),
        "accountant_id": "S1",
        "status": "active",
        "updated_at": updated_at,
        **fields,
    }


def invoice_row(invoice_id, client_id, issue, due, amount, *, updated_at, **fields) -> dict:
    return {
        "invoice_id": invoice_id,
        "client_id": client_id,
        "issue_date": dt.date.fromisoformat(issue),
        "due_date": dt.date.fromisoformat(due),
        "amount": Decimal(amount),
        "status": "open",
        "updated_at": updated_at,
        **fields,
    }


def payment_row(payment_id, paid, amount, *, updated_at, **fields) -> dict:
    return {
        "payment_id": payment_id,
        "paid_date": dt.date.fromisoformat(paid),
        "amount": Decimal(amount),
        "channel": "bank_transfer",
        "updated_at": updated_at,
        **fields,
    }


def paid_invoice(
    invoice_id, client_id, issue, due, paid, amount, *, updated_at, **fields
) -> tuple[dict, dict]:
    """An invoice and the payment `P<invoice_id>` that pays it in full on `paid` (dates 'YYYY-MM-DD')."""
    invoice = invoice_row(invoice_id, client_id, issue, due, amount, updated_at=updated_at, **fields)
    payment = payment_row(f"P{invoice_id}", paid, amount, client_id=client_id, invoice_id=invoice_id,
                          updated_at=updated_at)  # fmt: skip
    return invoice, payment


def _day(value):
    """'YYYY-MM-DD' -> date; dates and None pass through."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _at(value):
    """'YYYY-MM-DD HH:MM' -> datetime; datetimes and None pass through."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def staff_row(
    staff_id: str,
    staff_name: str,
    role: str = "accountant",
    *,
    updated_at,
    hire_date=None,
    leave_date=None,
    **fields,
) -> dict:
    """A staff member; hire/leave dates as dates or 'YYYY-MM-DD' strings."""
    return {"staff_id": staff_id, "staff_name": staff_name, "role": role, "hire_date": _day(hire_date),
            "leave_date": _day(leave_date), "updated_at": updated_at, **fields}  # fmt: skip


def contract_row(contract_id, client_id, fee, start, end, *, updated_at, **fields) -> dict:
    """A bookkeeping contract billed monthly; `fee` a string, `start`/`end` 'YYYY-MM-DD'."""
    return {
        "contract_id": contract_id,
        "client_id": client_id,
        "service_type": "bookkeeping",
        "billing_cycle": "monthly",
        "fee_per_cycle": Decimal(fee),
        "start_date": dt.date.fromisoformat(start),
        "end_date": dt.date.fromisoformat(end),
        "status": "active",
        "updated_at": updated_at,
        **fields,
    }


def task_row(task_id, client_id, stage, due, status, *, created_at, updated_at, started_at=None,
             completed_at=None, **fields) -> dict:  # fmt: skip
    """A bookkeeping-service task; `due` 'YYYY-MM-DD', timestamps as datetimes or 'YYYY-MM-DD HH:MM'."""
    return {
        "task_id": task_id,
        "client_id": client_id,
        "service_type": "bookkeeping",
        "stage": stage,
        "created_at": _at(created_at),
        "started_at": _at(started_at),
        "completed_at": _at(completed_at),
        "due_date": dt.date.fromisoformat(due),
        "status": status,
        "updated_at": _at(updated_at),
        **fields,
    }


def feedback_row(feedback_id, client_id, feedback_date, score, *, updated_at, **fields) -> dict:
    return {
        "feedback_id": feedback_id,
        "client_id": client_id,
        "feedback_date": dt.date.fromisoformat(feedback_date),
        "score": score,
        "is_complaint": False,
        "updated_at": updated_at,
        **fields,
    }
