"""Dagster's SQLite event log with one engine and one open connection per shard, not one per event.

Dagster's default `SqliteEventLogStorage` creates an SQLAlchemy engine and opens and closes an SQLite
connection for every read and write: a night's ~1,500 events (each dbt test an asset-check evaluation,
each model a materialization, asset and check events written to the run's shard and again to the
index shard) each pay the engine's creation, the compilation of their INSERT (cached per engine) and,
when the connection closes, a WAL checkpoint of the shard (docs/benchmarks.md, overhead section).
`KeptConnectionSqliteEventLogStorage` keeps the engine and its connection of the last few shards:
the same files, tables and rows, each write still its own committed transaction (WAL mode,
synchronous FULL, as Dagster sets them), so the webserver, the daemon and the sensors, which read the
files with Dagster's own class from other processes, see every event as before. An open connection
holds no lock between transactions. `night_instance` is how the night's process (cli.py) gets its
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
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

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


class KeptConnectionSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` keeping one engine and one SQLite connection per shard (module docstring)."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._engines_lock = threading.Lock()
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

    def close_connections(self) -> None:
        """Close every kept connection (the next use opens it again)."""
        with self._engines_lock:
            engines, self._engines = list(self._engines.values()), OrderedDict()
        for engine in engines:
            engine.dispose()

    def wipe(self) -> None:
        self.close_connections()  # the run shards' files are deleted
        super().wipe()

    def dispose(self) -> None:
        self.close_connections()
        super().dispose()
