"""The ingest worker on a thread of its own with its own event loop, as `local serve` runs it.

The server's event loop answers HTTP; the worker's loop writes batches and takes detection results, so a
slow commit never holds a request. ``start`` returns once the worker has started (its setup done),
``stop`` once it has written what is queued and its thread has ended."""

from __future__ import annotations

import asyncio
import threading

from dunetrace_cli.local.worker import IngestWorker


class WorkerThread:
    """Runs one :class:`IngestWorker` (``start_detection`` called before) on a thread of its own."""

    def __init__(self, worker: IngestWorker) -> None:
        self.worker = worker
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread and its loop, and wait until ``IngestWorker.start`` has run on it."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def begin() -> None:
            try:
                self.worker.start()
            finally:
                started.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(begin)
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="dunetrace-ingest-worker", daemon=True)
        self._thread.start()
        started.wait()

    def stop(self) -> None:
        """``IngestWorker.stop`` on its loop, then the loop stops and the thread is joined (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        done = threading.Event()

        def finish() -> None:
            try:
                self.worker.stop()
            finally:
                done.set()
                loop.stop()

        loop.call_soon_threadsafe(finish)
        done.wait()
        thread.join()
        self._loop = self._thread = None
