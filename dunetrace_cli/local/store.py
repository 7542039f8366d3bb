"""Connection factory of the local store: WAL, busy timeout, foreign keys, forward migrations.

Both the write side (ingest, detection) and the read side (``api.py``) open the database through
``open_store(path)``. A ``Store`` is cheap; it hands out one SQLite connection per thread
(``store.conn()``), or fresh ones (``store.connect()``).

Failures of the store itself (disk full, read-only, locked, damaged, missing) leave every public
function here as the typed errors of :mod:`dunetrace_cli.local.store_errors`, never as raw
``sqlite3`` errors. Files are private: the store, its WAL and shared-memory files are 0600 and the
directories created for them 0700.

Transactions: connections are in autocommit mode (``isolation_level=None``). Use
``with store.write() as conn:`` for a write transaction (``BEGIN IMMEDIATE`` so writers queue on the
busy timeout instead of failing on a lock upgrade) and ``with store.read() as conn:`` for a consistent
snapshot across several SELECTs (readers never block writers in WAL mode).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dunetrace_cli.errors import ConfigError
from dunetrace_cli.local import paths, schema
from dunetrace_cli.local import store_errors as se
from dunetrace_cli.local.intake import intake_path

#: How long a connection waits for another writer before SQLite gives up (ms). Long on purpose:
#: a lock timeout must never reach a user under normal concurrency.
BUSY_TIMEOUT_MS = 60_000
#: Readers (``open_store(create=False)``) wait at most this long: in WAL mode only an exclusive lock (another
#: program's ``locking_mode=EXCLUSIVE``, a VACUUM) blocks a read, and a read command must not hang on one.
READ_BUSY_TIMEOUT_MS = 5_000


def _configure(conn: sqlite3.Connection, *, synchronous: str = "FULL", busy_timeout_ms: int | None = None) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms}")
    conn.execute("PRAGMA foreign_keys=ON")
    # FULL: a committed batch survives power loss as well as a killed process (202 means durable).
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-16000")


def _rollback(conn: sqlite3.Connection) -> None:
    """End the open transaction; a store too broken to roll back keeps the original error."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


class Store:
    """Handle on one local database file."""

    def __init__(self, path: Path, *, busy_timeout_ms: int | None = None) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Serialises this process's writers (other processes queue on SQLite's busy timeout).
        self._write_lock = threading.RLock()
        #: set when the file can only be read: connections open it through this URI
        self._readonly_uri: str | None = None
        #: None: the module's BUSY_TIMEOUT_MS (writers); readers get READ_BUSY_TIMEOUT_MS
        self.busy_timeout_ms = busy_timeout_ms

    @property
    def readonly(self) -> bool:
        return self._readonly_uri is not None

    # -- connections -------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """A new connection, configured; the caller closes it."""
        target, uri = (self._readonly_uri, True) if self._readonly_uri else (str(self.path), False)
        try:
            conn = sqlite3.connect(
                target, timeout=self._busy_ms() / 1000, isolation_level=None, check_same_thread=False, uri=uri
            )
            _configure(conn, busy_timeout_ms=self._busy_ms())
        except sqlite3.Error as exc:
            raise se.translate(exc, self.path) from exc
        return conn

    def _busy_ms(self) -> int:
        return BUSY_TIMEOUT_MS if self.busy_timeout_ms is None else self.busy_timeout_ms

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
        with self._write_lock, se.translated(self.path):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _rollback(conn)
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read snapshot on this thread's connection."""
        conn = self.conn()
        if conn.in_transaction:  # nested use: reuse the surrounding transaction
            yield conn
            return
        with se.translated(self.path):
            conn.execute("BEGIN")
            try:
                yield conn
            except BaseException:
                _rollback(conn)
                raise
            else:
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

    def __enter__(self) -> Store:  # noqa: PYI034 - Store is not subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- facts -------------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """The database file, its WAL/shared-memory companions and `local serve`'s intake log."""
        return [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"), Path(f"{self.path}-journal"),
                intake_path(self.path)]  # fmt: skip

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files() if p.exists())


def open_store(db_path: str | os.PathLike[str], *, create: bool = True) -> Store:
    """Open (and by default create) the store at ``db_path``: WAL mode, migrations applied.

    ``create=False`` is for readers: a missing file raises ``StoreMissing`` (nothing is created), and a
    store that cannot be written (read-only file or file system) is opened read-only instead of
    failing. Every failure is a typed error of :mod:`~dunetrace_cli.local.store_errors`.
    """
    path = Path(db_path).expanduser()
    if path.is_dir():
        raise se.unusable(path, "it is a directory, not a database file; pass the path of a .db file")
    if not path.exists():
        if not create:
            raise se.missing(path)
        with se.translated(path):
            paths.make_private_dir(path.parent)
            paths.create_private_file(path)
    else:
        for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), intake_path(path)):
            paths.tighten(companion)
        if path.parent == paths.data_dir():
            paths.tighten(path.parent, paths.PRIVATE_DIR_MODE)
    store = Store(path, busy_timeout_ms=None if create else READ_BUSY_TIMEOUT_MS)
    try:
        _prepare(store)
    except se.StoreError as exc:
        store.close()
        if create or not isinstance(exc, (se.StoreReadOnly, se.StoreUnusable)):
            raise
        return _open_readonly(path, exc)
    except BaseException:
        store.close()
        raise
    return store


def _prepare(store: Store) -> None:
    conn = store.conn()
    try:
        conn.execute("PRAGMA journal_mode=WAL").fetchone()  # stays as it is on a read-only file
        schema.migrate(conn)
    except schema.SchemaTooNewError as exc:
        raise ConfigError(
            f"The local store at {store.path} has schema version {exc.found}, newer than this dunetrace-cli "
            f"supports ({schema.SCHEMA_VERSION}); upgrade dunetrace-cli or use another --db."
        ) from exc
    except sqlite3.Error as exc:
        raise se.translate(exc, store.path) from exc


def _open_readonly(path: Path, first: se.StoreError) -> Store:
    """A reader's store on a file that cannot be written: ``mode=ro``, else ``immutable`` (no -shm can be made)."""
    quoted = urllib.parse.quote(str(path.resolve()))
    for uri in (f"file:{quoted}?mode=ro", f"file:{quoted}?immutable=1"):
        store = Store(path, busy_timeout_ms=READ_BUSY_TIMEOUT_MS)
        store._readonly_uri = uri
        try:
            found = schema.current_version(store.conn())
        except (sqlite3.Error, se.StoreError):
            store.close()
            continue
        if found != schema.SCHEMA_VERSION:
            store.close()
            if found > schema.SCHEMA_VERSION:
                raise ConfigError(
                    f"The local store at {path} has schema version {found}, newer than this dunetrace-cli "
                    f"supports ({schema.SCHEMA_VERSION}); upgrade dunetrace-cli or use another --db."
                )
            raise se.readonly(path, f"schema version {found} needs an upgrade, which needs write access")
        return store
    raise first


def describe_store(path: Path) -> dict[str, object]:
    """Facts for `dunetrace local status` (the file must exist)."""
    store = open_store(path, create=False)
    try:
        conn = store.conn()
        with store.read():
            one = lambda sql: conn.execute(sql).fetchone()[0]
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
