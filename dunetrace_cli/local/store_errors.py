"""The local store's own failures, each one typed error with one sentence, an exit code and a next step.

``translate(exc, path)`` turns a ``sqlite3.Error`` or ``OSError`` met while using the store at ``path``
into one of the errors below; ``translated(path)`` does it for a block of code. The CLI prints the
sentence and exits with the code; ``local serve`` answers 503 with the sentence and logs it once
(``OnceLog``); in-process (``DUNETRACE_API_URL=local``) the error reaches the command unchanged.

    kind       class          exit  next step
    missing    StoreMissing   4     create it with `dunetrace local ingest` or `dunetrace demo`
    full       StoreFull      5     free disk space, or --db on another disk
    locked     StoreLocked    5     wait for the other writer, retry
    readonly   StoreReadOnly  3     make it writable, or --db elsewhere
    corrupt    StoreCorrupt   3     `sqlite3 PATH .recover`, or `dunetrace local reset`
    notadb     StoreCorrupt   3     the right file, or `dunetrace local reset`
    unusable   StoreUnusable  3     check the path, or --db elsewhere
    io         StoreIOError   5     check the disk, retry
"""

from __future__ import annotations

import errno
import os
import shlex
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dunetrace_cli.errors import ApiUnavailable, ConfigError, DunetraceError, NotFound, UsageError

# SQLite primary result codes (the low byte of an extended code)
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26


class StoreError(DunetraceError):
    """A failure of the local store itself (not of a query)."""

    kind = "store"

    def __init__(self, message: str, *, path: Path, cause: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.cause = cause


class StoreMissing(StoreError, NotFound):
    kind = "missing"


class StoreFull(StoreError, ApiUnavailable):
    kind = "full"


class StoreLocked(StoreError, ApiUnavailable):
    kind = "locked"


class StoreIOError(StoreError, ApiUnavailable):
    kind = "io"


class StoreReadOnly(StoreError, ConfigError):
    kind = "readonly"


class StoreCorrupt(StoreError, ConfigError):
    kind = "corrupt"


class StoreUnusable(StoreError, ConfigError):
    kind = "unusable"


class StoreUnsupported(UsageError):
    """Something the local store cannot do (a write only a backend honours); HTTP 501 when served."""


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def _reset(path: Path) -> str:
    """The reset command for this store, runnable as printed."""
    from dunetrace_cli.local.paths import default_db_path

    return "dunetrace local reset" if path == default_db_path() else f"dunetrace local reset --db {_q(path)}"


def missing(path: Path) -> StoreMissing:
    return StoreMissing(
        f"no local store at {path} (create one with `dunetrace local ingest FILE` or `dunetrace demo`).", path=path
    )


def full(path: Path, cause: str) -> StoreFull:
    return StoreFull(
        f"the disk holding the local store at {path} is full ({cause}); free some space and retry, "
        "or pass --db with a path on another disk.",
        path=path,
        cause=cause,
    )


def locked(path: Path, cause: str) -> StoreLocked:
    return StoreLocked(
        f"the local store at {path} is locked by another process ({cause}); wait for it to finish "
        "(a running `dunetrace local ingest`, or stop `dunetrace local serve`) and retry.",
        path=path,
        cause=cause,
    )


def readonly(path: Path, cause: str) -> StoreReadOnly:
    return StoreReadOnly(
        f"the local store at {path} is read-only ({cause}); make the file and its directory writable, "
        "or pass --db with a writable path.",
        path=path,
        cause=cause,
    )


def corrupt(path: Path, cause: str) -> StoreCorrupt:
    return StoreCorrupt(
        f"the local store at {path} is damaged ({cause}); recover what you can with "
        f"`sqlite3 {_q(path)} .recover | sqlite3 recovered.db`, or start afresh with `{_reset(path)}`.",
        path=path,
        cause=cause,
    )


def not_a_database(path: Path, cause: str) -> StoreCorrupt:
    err = StoreCorrupt(
        f"{path} is not a Dunetrace local store ({cause}); pass --db with the right file, "
        f"or delete it with `{_reset(path)}`.",
        path=path,
        cause=cause,
    )
    err.kind = "notadb"
    return err


def unusable(path: Path, cause: str) -> StoreUnusable:
    return StoreUnusable(
        f"cannot open the local store at {path} ({cause}); check the path, or pass --db with another one.",
        path=path,
        cause=cause,
    )


def io_error(path: Path, cause: str) -> StoreIOError:
    return StoreIOError(
        f"the local store at {path} could not be read or written ({cause}); check the disk and retry.",
        path=path,
        cause=cause,
    )


def _disk_nearly_full(path: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(path.parent if not path.is_dir() else path).free < 1024 * 1024
    except OSError:
        return False


def _cannot_write(path: Path) -> bool:
    """Whether the file (or, for a new file, its directory) cannot be written by this process."""
    target = path if path.exists() else path.parent
    try:
        if not os.access(target, os.W_OK):
            return True
        st = os.statvfs(target)
    except OSError:
        return False
    return bool(st.f_flag & os.ST_RDONLY)


def translate(exc: BaseException, path: Path) -> DunetraceError:
    """The store error for ``exc``; a DunetraceError passes through unchanged."""
    path = Path(path)
    if isinstance(exc, DunetraceError):
        return exc
    cause = str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = cause.lower()
        if primary == _SQLITE_FULL or "disk is full" in text:
            return full(path, cause)
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text:
            return locked(path, cause)
        if primary == _SQLITE_READONLY or "readonly database" in text:
            return readonly(path, cause)
        if primary == _SQLITE_CORRUPT or "malformed" in text:
            return corrupt(path, cause)
        if primary == _SQLITE_NOTADB or "not a database" in text:
            return not_a_database(path, cause)
        if primary in (_SQLITE_CANTOPEN, _SQLITE_PERM):
            if not path.parent.exists():
                return missing(path)
            if _cannot_write(path):
                return readonly(path, cause)
            return unusable(path, cause)
        if primary == _SQLITE_IOERR:
            if _disk_nearly_full(path):
                return full(path, cause)
            if _cannot_write(path):
                return readonly(path, cause)
            return io_error(path, cause)
        return unusable(path, cause)
    if isinstance(exc, OSError):
        cause = exc.strerror or cause
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            return full(path, cause)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return readonly(path, cause)
        if exc.errno == errno.ENOENT:
            return missing(path)
        return io_error(path, cause)
    raise TypeError(f"not a storage error: {exc!r}")  # pragma: no cover - a programming error


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """Run a block; a ``sqlite3.Error`` or ``OSError`` from it leaves as the store error it means."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise translate(exc, path) from exc


#: Kinds logged once whatever the cause's words (a full disk reads "database or disk is full" from SQLite and
#: "No space left on device" from the intake log); other kinds once per distinct cause.
_ONE_CAUSE_KINDS = frozenset({"missing", "full", "locked", "readonly", "corrupt", "notadb"})


class OnceLog:
    """Logs each distinct storage error once per channel (kind, and cause for the vaguer kinds), and once
    when it recovers."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._seen: dict[str, set[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def error(self, exc: BaseException, path: Path, *, doing: str, channel: str = "store") -> DunetraceError:
        """Log ``exc`` (translated) unless this channel already logged the same kind and cause; return it."""
        err = exc if isinstance(exc, DunetraceError) else translate(exc, path)
        kind = getattr(err, "kind", type(err).__name__)
        key = (kind, "" if kind in _ONE_CAUSE_KINDS else getattr(err, "cause", "") or str(exc))
        with self._lock:
            seen = self._seen.setdefault(channel, set())
            first = key not in seen
            seen.add(key)
        if first:
            self._say(f"storage error while {doing}: {err.message}")
        return err

    def ok(self, channel: str = "store") -> None:
        """The channel worked again: say so if it had failed, and log its next failure anew."""
        with self._lock:
            had = bool(self._seen.pop(channel, None))
        if had:
            self._say(f"the local store works again ({channel}).")
