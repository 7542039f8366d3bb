"""Connection factory of the local store: WAL, busy timeout, foreign keys, forward migrations.

Both the write side (ingest, detection) and the read side (``api.py``) open the database through
``open_store(path)``. A ``Store`` is cheap; it hands out one SQLite connection per thread
(``store.conn()``), or fresh ones (``store.connect()``).

Transactions: connections are in autocommit mode (``isolation_level=None``). Use
``with store.write() as conn:`` for a write transaction (``BEGIN IMMEDIATE`` so writers queue on the
busy timeout instead of failing on a lock upgrade) and ``with store.read() as conn:`` for a consistent
snapshot across several SELECTs (readers never block writers in WAL mode).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dunetrace_cli.errors import ConfigError
from dunetrace_cli.local import schema

#: How long a connection waits for another writer before SQLite gives up (ms). Long on purpose:
#: a lock timeout must never reach a user under normal concurrency.
BUSY_TIMEOUT_MS = 60_000


def _configure(conn: sqlite3.Connection, *, synchronous: str = "FULL") -> None:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    # FULL: a committed batch survives power loss as well as a killed process (202 means durable).
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-16000")


class Store:
    """Handle on one local database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Serialises this process's writers (other processes queue on SQLite's busy timeout).
        self._write_lock = threading.RLock()

    # -- connections -------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """A new connection, configured; the caller closes it."""
        try:
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            _configure(conn)
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise ConfigError(
                    f"{self.path} is not a usable Dunetrace local store ({exc}); remove it with "
                    "`dunetrace local reset` or pass another --db."
                ) from exc
            raise ConfigError(
                f"Cannot open the local store at {self.path} ({exc}); check the path or pass another one with --db."
            ) from exc
        return conn

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (created on first use, closed by ``close()``)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on this thread's connection, committed on success, rolled back on error."""
        conn = self.conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read snapshot on this thread's connection."""
        conn = self.conn()
        if conn.in_transaction:  # nested use: reuse the surrounding transaction
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- facts -------------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """The database file and its WAL/shared-memory companions."""
        return [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"), Path(f"{self.path}-journal")]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files() if p.exists())


def open_store(db_path: str | os.PathLike[str], *, create: bool = True) -> Store:
    """Open (and by default create) the store at ``db_path``: WAL mode, migrations applied.

    Raises ConfigError when the file cannot be used, NotFound-like ConfigError when ``create`` is
    False and the file does not exist.
    """
    path = Path(db_path).expanduser()
    if not path.exists():
        if not create:
            raise ConfigError(
                f"No local store at {path}; ingest events first with `dunetrace local ingest FILE` "
                "or start `dunetrace local serve`."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the directory for the local store at {path.parent} ({exc.strerror}); "
                "set DUNETRACE_HOME or pass --db to a writable location."
            ) from exc
    elif path.is_dir():
        raise ConfigError(f"{path} is a directory, not a database file; pass the path of a .db file.")
    store = Store(path)
    conn = store.conn()
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a read-only directory; still usable for reads
            pass
        schema.migrate(conn)
    except schema.SchemaTooNewError as exc:
        store.close()
        raise ConfigError(
            f"The local store at {path} has schema version {exc.found}, newer than this dunetrace-cli "
            f"supports ({schema.SCHEMA_VERSION}); upgrade dunetrace-cli or use another --db."
        ) from exc
    except sqlite3.DatabaseError as exc:
        store.close()
        raise ConfigError(
            f"{path} is not a usable Dunetrace local store ({exc}); remove it with `dunetrace local reset` "
            "or pass another --db."
        ) from exc
    return store


def describe_store(path: Path) -> dict[str, object]:
    """Facts for `dunetrace local status` (the file must exist)."""
    store = open_store(path, create=False)
    try:
        conn = store.conn()
        with store.read():
            one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
            newest = conn.execute("SELECT MAX(timestamp), MAX(received_at) FROM events").fetchone()
            info: dict[str, object] = {
                "path": str(path),
                "size_bytes": store.size_bytes(),
                "schema_version": schema.current_version(conn),
                "events": one("SELECT COUNT(*) FROM events"),
                "runs": one("SELECT COUNT(*) FROM runs"),
                "runs_processed": one("SELECT COUNT(*) FROM runs WHERE processed_at IS NOT NULL"),
                "runs_pending": one("SELECT COUNT(*) FROM runs WHERE processed_at IS NULL"),
                "signals": one("SELECT COUNT(*) FROM signals WHERE shadow=0"),
                "shadow_signals": one("SELECT COUNT(*) FROM signals WHERE shadow=1"),
                "agents": one("SELECT COUNT(DISTINCT agent_id) FROM runs"),
                "newest_event_at": newest[0],
                "newest_received_at": newest[1],
            }
        return info
    finally:
        store.close()
