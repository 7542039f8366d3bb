"""The intake log of `dunetrace local serve`: where an accepted ingest batch is durable before it is written.

``POST /v1/ingest`` appends the validated request body to this file (next to the store, ``<db>-intake``,
0600) and answers 202; the ingest worker writes the batches to the store behind it, several in one
transaction, on its own thread. A batch is thus durable as soon as it is answered, as it was when the
answer waited for its commit: ``os.write`` to the file survives the server being killed, and the file is
synced with the store's WAL, about once a second (a power loss can cost the last second, as before).

Records are ``length (4 bytes, little-endian) + CRC-32 (4 bytes) + body``. When the server starts, what the
file still holds is replayed through the store's de-duplication (a batch written before the server
stopped adds nothing), then the file is emptied; while the server runs it is emptied whenever every
batch in it is written and it has grown past ``TRUNCATE_BYTES``. A record cut short by a crash was never
answered (the answer follows the write) and is dropped.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dunetrace_cli.local.paths import PRIVATE_FILE_MODE

_HEADER = struct.Struct("<II")
#: Once every batch in it is written, the file is emptied when it holds more than this.
TRUNCATE_BYTES = 4 * 1024 * 1024


def intake_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-intake")


def records(path: Path) -> list[bytes]:
    """The bodies in the intake log at ``path``, read without taking its lock (a server may hold it)."""
    with open(path, "rb") as fh:
        return list(_records(fh))


def _records(fh: BinaryIO) -> Iterator[bytes]:
    while True:
        head = fh.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        size, crc = _HEADER.unpack(head)
        body = fh.read(size)
        if len(body) < size or zlib.crc32(body) != crc:
            return
        yield body


class IntakeInUse(OSError):
    """Another process holds the intake log (a second `local serve` on the same store)."""


class IntakeLog:
    """Append-only, thread-safe: ``append`` on the server's thread, the rest on the worker's. One process
    at a time holds it (an exclusive lock, released when it closes or dies): ``IntakeInUse`` otherwise."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            raise IntakeInUse(exc.errno, "held by another process") from None
        os.fchmod(self._fd, PRIVATE_FILE_MODE)
        self._size = os.fstat(self._fd).st_size
        self._held = self._size > 0  # an earlier server's batches: kept until replayed (``clear``)
        self.appended = 0  # records appended by this process
        self.written = 0  # of which the store has committed this many (the worker says so)

    def append(self, body: bytes) -> None:
        """Make ``body`` durable (raises OSError, e.g. a full disk: nothing is appended then)."""
        record = _HEADER.pack(len(body), zlib.crc32(body)) + body
        with self._lock:
            view = memoryview(record)
            start = self._size
            try:
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
            except OSError:
                os.ftruncate(self._fd, start)  # no torn record left behind
                raise
            self._size = start + len(record)
            self.appended += 1

    def committed(self, records: int) -> None:
        """``records`` more appended batches are in the store; empty the file if it is all written and big."""
        with self._lock:
            self.written += records
            if self._size > TRUNCATE_BYTES:
                self._truncate_if_written()

    def clear_if_written(self) -> None:
        """Empty the file if every batch in it is in the store (the server stops)."""
        with self._lock:
            self._truncate_if_written()

    def _truncate_if_written(self) -> None:
        if not self._held and self.written == self.appended:
            self._truncate()

    def sync(self) -> None:
        os.fsync(self._fd)

    def replay(self) -> Iterator[bytes]:
        """The bodies still in the file, oldest first (a torn or damaged tail ends them)."""
        with open(self._fd, "rb", closefd=False) as fh:
            fh.seek(0)
            yield from _records(fh)

    def clear(self) -> None:
        """Empty the file: every batch in it is in the store (replayed), none appended since."""
        with self._lock:
            self._held = False
            self.appended = self.written = 0
            self._truncate()

    def _truncate(self) -> None:
        os.ftruncate(self._fd, 0)
        self._size = 0

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
