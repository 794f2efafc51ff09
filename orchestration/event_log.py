"""Dagster's SQLite event log with one engine and one open connection per shard, not one per event.

Dagster's default `SqliteEventLogStorage` creates an SQLAlchemy engine and opens and closes an SQLite
connection for every read and write: a night's ~1,500 events (each dbt test an asset-check evaluation,
each model a materialization, asset and check events written to the run's shard and again to the
index shard) each pay the engine's creation, the compilation of their INSERT (cached per engine) and,
when the connection closes, a WAL checkpoint of the shard (docs/benchmarks.md, overhead section).
`KeptConnectionSqliteEventLogStorage` keeps the engine and its connection of the last few shards:
the same files, tables and rows, each write still its own committed transaction (WAL mode, as
Dagster sets it), so the webserver, the daemon and the sensors, which read the files with Dagster's
own class from other processes, see every event as before. An open connection holds no lock between
transactions. Its commits are `PRAGMA synchronous=NORMAL` (SQLite's default is FULL): in WAL mode a
commit is then written to the WAL but not fsync'ed, the WAL is synced at each checkpoint; the file
stays consistent after any crash, and a killed night process loses nothing (the rows are in the
OS's cache), only a power loss or OS crash can drop the last events before the next checkpoint —
a night that was running then is dead anyway. One fsync per event was most of the wall time of
writing a night's ~1,500 events on a shared disk (docs/benchmarks.md, "fixed costs of a one-day
night"). `night_instance` is how the night's process (cli.py) gets its
instance; a dagster.yaml that chooses its own storage is left as it is.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

SYNCHRONOUS = "NORMAL"  # the kept connections' commits: no fsync per event (module docstring)
KEEP_SHARDS = 8  # shards whose connection is kept: the index and the runs being written or read
# instance settings that choose the storage themselves: the night then keeps the deployment's choice
STORAGE_KEYS = ("storage", "event_log_storage")


def night_instance(home: str | os.PathLike | None = None) -> dg.DagsterInstance:
    """The Dagster instance of `home` (default $DAGSTER_HOME), its event log written through
    `KeptConnectionSqliteEventLogStorage` when its dagster.yaml leaves the storage to Dagster's
    default (SQLite under `home`/history). Same files as the default, so the webserver, the daemon
    and the run history read what the night wrote with Dagster's own class."""
    home = home or os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.get()  # Dagster's own message for a missing DAGSTER_HOME
    home = os.path.abspath(home)
    config_file = Path(home) / "dagster.yaml"
    config = (
        yaml.safe_load(config_file.read_text(encoding="utf-8")) if config_file.is_file() else None
    ) or {}
    overrides = None
    if not any(key in config for key in STORAGE_KEYS):
        overrides = {
            "event_log_storage": {
                "module": __name__,
                "class": KeptConnectionSqliteEventLogStorage.__name__,
                "config": {"base_dir": os.path.join(home, "history", "runs")},  # Dagster's default place
            }
        }
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(home, overrides=overrides))


def _no_fsync_per_commit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA synchronous={SYNCHRONOUS}")


class KeptConnectionSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` keeping one engine and one SQLite connection per shard (module docstring)."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._engines_lock = threading.Lock()
        self._tables_present: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> KeptConnectionSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            if self._engines_pid != os.getpid():  # a forked child never uses its parent's connections
                self._engines, self._engines_pid = OrderedDict(), os.getpid()
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=StaticPool,  # one connection, used under _db_lock by one thread at a time
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
                )
                event.listen(engine, "connect", _no_fsync_per_commit)
            self._engines[shard] = engine  # most recently used last
            while len(self._engines) > KEEP_SHARDS:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's SqliteEventLogStorage._connect, with the shard's engine kept, not created and disposed
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """Dagster's answer, remembered once a table exists. Dagster's own method builds an engine and
        opens (and, closing it, checkpoints) a connection to the index shard on every call, and it is
        called for every asset-check event (`supports_asset_checks`) and asset event tag: ~860 times a
        night. Tables are only ever added (migrations) while a process runs, except by `wipe`."""
        if table_name in self._tables_present:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_present.add(table_name)
        return present

    def close_connections(self) -> None:
        """Close every kept connection (the next use opens it again)."""
        with self._engines_lock:
            engines, self._engines = list(self._engines.values()), OrderedDict()
        for engine in engines:
            engine.dispose()

    def wipe(self) -> None:
        self.close_connections()  # the run shards' files are deleted
        self._tables_present.clear()
        super().wipe()

    def dispose(self) -> None:
        self.close_connections()
        super().dispose()
