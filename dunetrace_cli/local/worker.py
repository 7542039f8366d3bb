"""The detection worker of `dunetrace local serve`: detection right after ingest, and the stall sweep."""

from __future__ import annotations

import sqlite3
import threading

from dunetrace_cli.errors import DunetraceError
from dunetrace_cli.local import detect
from dunetrace_cli.local.store import Store
from dunetrace_cli.local.store_errors import OnceLog


class DetectionWorker(threading.Thread):
    """Runs detection for completed runs right after ingest, and the stall sweep every ``poll_s``."""

    def __init__(
        self, store: Store, *, stall_seconds: float, poll_s: float = 1.0, errors: OnceLog | None = None
    ) -> None:
        super().__init__(name="dunetrace-detector", daemon=True)
        self.store = store
        self.stall_seconds = stall_seconds
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._halt = threading.Event()
        self.last_error: str | None = None
        self.errors = errors or OnceLog(lambda _m: None)

    def wake(self, _ready: set[str] | None = None) -> None:
        if _ready is None or _ready:
            self._wake.set()

    def stop(self) -> None:
        self._halt.set()
        self._wake.set()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                detect.sweep(self.store, stall_seconds=self.stall_seconds)
                self.last_error = None
                self.errors.ok("detect")
            except (DunetraceError, sqlite3.Error, OSError) as exc:  # retried on the next tick
                self.last_error = self.errors.error(exc, self.store.path, doing="analysing runs", channel="detect").message
            except Exception as exc:  # noqa: BLE001 - keep the server alive; retried on the next tick
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._wake.wait(self.poll_s)
            self._wake.clear()
