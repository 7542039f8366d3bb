"""`dunetrace local ingest`: stream JSONL files into the store, then run detection.

File input keeps its own clock: every event is received at its own timestamp, so runs are placed,
bucketed and stalled by when they ran, not by when the file was imported (docs/local-fidelity.md).
"""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from dunetrace_cli.errors import UsageError
from dunetrace_cli.local import detect
from dunetrace_cli.local.ingest import (
    Event,
    LineProblem,
    ValidationFailed,
    iter_lines,
    open_source,
    parse_line,
    write_events,
)
from dunetrace_cli.local.store import Store
from dunetrace_cli.local.streaming import RECORD_EVERY, StreamDetector

#: Events written per transaction while streaming.
COMMIT_EVERY = 5_000
#: Page cache of the importing connection (KiB): the run-keyed trees (runs, run_llm, run_starts, the
#: events' (run_id, event_id)) take uuid4 keys, so a store larger than the cache turns many of their inserts
#: into page reads; capped, so memory stays flat past it.
BULK_CACHE_KIB = 64 * 1024
#: WAL pages between checkpoints of `local serve`'s writer (SQLite's default is 1,000: about one per 2,000
#: events, each an fsync); its WAL grows to about 64 MiB while no reader holds it back, and stays.
BULK_CHECKPOINT_PAGES = 16_000
#: The same while a file is imported: a checkpoint copies each page once however often the WAL rewrote it,
#: so fewer of them copy less. At 1M events 64,000 (a WAL of up to 250 MiB, deleted when the import closes
#: the store) wrote 15% less than 16,000 and took 6-9% less CPU in the importer and the detection process.
FILE_CHECKPOINT_PAGES = 64_000
#: Batches parsed ahead at most while the detection process writes its results (the store is its then):
#: about what its write of ``RECORD_EVERY`` runs' results takes to parse.
PARSE_AHEAD = 3
#: The cyclic GC's thresholds while a file is imported or `local serve` runs (Python's default: 700, 10,
#: 10); see few_collections.
IMPORT_GC_THRESHOLD = (50_000, 20, 100)


@dataclass
class IngestSummary:
    db: str = ""
    files: int = 0
    lines: int = 0
    events_new: int = 0
    events_duplicate: int = 0
    events_rejected: int = 0
    runs_completed: int = 0
    runs_stalled: int = 0
    runs_redetected: int = 0
    runs_reevaluated: int = 0
    runs_pending: int = 0
    signals_found: int = 0
    seconds: float = 0.0
    detection_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class NothingReadable(UsageError):
    """No line of the input was an event (exit 2); ``summary`` tells what was read."""

    def __init__(self, message: str, summary: IngestSummary) -> None:
        super().__init__(message)
        self.summary = summary


ProgressHook = Callable[[str, int, int | None], None]  # (source name, bytes read, total bytes or None)


def ingest_sources(
    store: Store,
    specs: Sequence[str],
    *,
    report: Callable[[LineProblem], None],
    progress: Callable[[str, int | None], ProgressHook | None] | None = None,
    finalize_stalled: bool = False,
    stall_seconds: float | None = detect.DEFAULT_STALL_SECONDS,
    commit_every: int = COMMIT_EVERY,
    detect_process: bool | None = None,
) -> IngestSummary:
    """Ingest every source in order, detecting each run as soon as its terminal event is stored, then
    the stalled (and, if asked, every unfinished) run.

    ``report`` gets each skipped line. ``progress(name, total_bytes)`` may return a hook called as
    bytes are consumed. Memory stays flat: at most ``commit_every`` events are parsed ahead, and the
    events of open runs are kept for detection in this process only up to ``MAX_BUFFERED`` (else re-read;
    the detection process reads them from the store).
    Raises UsageError when no line of the input could be read (a pretty-printed JSON file, say).
    """
    started = time.monotonic()
    summary = IngestSummary(db=str(store.path))
    with bulk_writes(store), few_collections():
        _ingest(store, specs, summary, report=report, progress=progress, finalize_stalled=finalize_stalled,
                stall_seconds=stall_seconds, commit_every=commit_every, detect_process=detect_process)  # fmt: skip
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


@contextmanager
def few_collections() -> Iterator[None]:
    """The cyclic GC runs rarely while a file is imported or `local serve` runs (``IMPORT_GC_THRESHOLD``),
    as in the detection process. The import allocates a batch of short-lived objects at a time and next to
    no cycles (229 objects collected in a million-event import), while every collection scans its
    bookkeeping, which grows with the input: by default 5,660 young and 46 full collections at 1M events,
    about 1.6 CPU s. The server's is the same work plus the requests' (and up to ``MAX_QUEUED_EVENTS``
    parsed events waiting for their commit): 4-9 of its CPU s at 1M events by default."""
    old = gc.get_threshold()
    gc.set_threshold(*IMPORT_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)


@contextmanager
def bulk_writes(store: Store) -> Iterator[None]:
    """Commits without an fsync each while a file is imported; one checkpoint makes it durable at the end.

    WAL with ``synchronous=NORMAL`` keeps the store consistent through a crash or power loss; what a power
    loss can cost is the last transactions, and importing the same file again restores them (events are
    de-duplicated by id, runs not yet detected are detected then). The store is durable when this returns.
    """
    conn = store.conn()
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={FILE_CHECKPOINT_PAGES}")
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA wal_autocheckpoint=1000")
        conn.execute(f"PRAGMA cache_size={int(cache)}")
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # syncs the WAL, then copies what readers allow
        except sqlite3.Error:
            pass


def _ingest(
    store: Store,
    specs: Sequence[str],
    summary: IngestSummary,
    *,
    report: Callable[[LineProblem], None],
    progress: Callable[[str, int | None], ProgressHook | None] | None,
    finalize_stalled: bool,
    stall_seconds: float | None,
    commit_every: int,
    detect_process: bool | None,
) -> None:
    newest: float | None = None  # the input's own "now" when the batch written was complete: its newest event
    stall_s = float(stall_seconds) if stall_seconds is not None else detect.DEFAULT_STALL_SECONDS
    first_lines: dict[str, str] = {}
    quiet = threading.Lock()  # held while the store is written: by this thread, or the results' writer
    stream = StreamDetector(store, stall_seconds=stall_seconds, use_process=detect_process,
                            total_bytes=_total_bytes(specs), record_every=RECORD_EVERY, write_behind=quiet)  # fmt: skip
    stream.start()  # (it forks: before the checkpoint thread exists)
    try:
        checkpoints = Checkpointer(store, FILE_CHECKPOINT_PAGES, quiet)
    except BaseException:
        stream.close()
        raise

    def flush(pending: list[Event], at: float | None) -> None:
        stream.sync()  # the detection results being written are in (outside the lock: the writer holds it)
        with quiet:  # (a checkpoint beside a write cannot finish the WAL)
            outcome = write_events(store, pending, event_clock=True)
            summary.events_new += outcome.new
            summary.events_duplicate += outcome.duplicate
            stream.written(outcome, at - stall_s if at is not None else None)
        checkpoints.committed()
        stream.write_behind()  # the results back, written while the next batch is parsed (or several)

    batches = _batches(specs, summary, first_lines, report=report, progress=progress, commit_every=commit_every)
    ahead: deque[tuple[list[Event], float | None]] = deque()
    try:
        while True:
            nxt = ahead.popleft() if ahead else next(batches, None)
            if nxt is None:
                break
            # while the detection process writes results the store is its: parse on (never past PARSE_AHEAD)
            while stream.behind() and len(ahead) < PARSE_AHEAD:
                more = next(batches, None)
                if more is None:
                    break
                ahead.append(more)
            newest = nxt[1]
            flush(nxt[0], newest)
            del nxt  # (its events go before the next batch is parsed)
        stream.sync()
        with quiet:
            stream.finish()
    finally:
        batches.close()
        stream.close()
        checkpoints.close()
    if summary.events_rejected and summary.events_rejected == summary.lines:
        raise NothingReadable(_nothing_readable(summary, first_lines), summary)

    sweep = detect.sweep(
        store, stall_seconds=stall_seconds, finalize_stalled=finalize_stalled, reference=newest, settled=True,
        cache=stream.cache, summary=stream.found,
    )  # fmt: skip
    summary.runs_completed = sweep.runs_completed
    summary.runs_stalled = sweep.runs_stalled
    summary.runs_redetected = sweep.runs_redetected
    summary.runs_reevaluated = sweep.runs_reevaluated
    summary.signals_found = sweep.signals_found
    summary.detection_errors = sweep.errors
    summary.runs_pending = store.conn().execute("SELECT COUNT(*) FROM runs WHERE processed_at IS NULL").fetchone()[0]


def _batches(
    specs: Sequence[str],
    summary: IngestSummary,
    first_lines: dict[str, str],
    *,
    report: Callable[[LineProblem], None],
    progress: Callable[[str, int | None], ProgressHook | None] | None,
    commit_every: int,
) -> Generator[tuple[list[Event], float | None], None, None]:
    """The input's events in batches of ``commit_every`` (a file's last one shorter), each with the newest
    event parsed by then (the input's clock when it is written)."""
    pending: list[Event] = []
    newest: float | None = None
    for spec in specs:
        src = open_source(spec)
        summary.files += 1
        hook = progress(src.name, src.total_bytes) if progress is not None else None
        last_tick = 0.0
        try:
            for lineno, item in iter_lines(src):
                summary.lines += 1
                if isinstance(item, LineProblem):
                    summary.events_rejected += 1
                    report(item)
                else:
                    if src.name not in first_lines:
                        first_lines[src.name] = item
                    try:
                        parsed = parse_line(item)
                        for ev in parsed:
                            if newest is None or ev.timestamp > newest:
                                newest = ev.timestamp
                        pending.extend(parsed)
                    except ValidationFailed as exc:
                        summary.events_rejected += 1
                        report(LineProblem(src.name, lineno, exc.short()))
                    if len(pending) >= commit_every:
                        yield pending, newest
                        pending = []
                if hook is not None:
                    now = time.monotonic()
                    if now - last_tick > 0.1:
                        last_tick = now
                        hook(src.name, src.counter.count, src.total_bytes)
            if pending:
                yield pending, newest
                pending = []
        finally:
            src.close()
        if hook is not None:
            hook(src.name, src.counter.count, src.total_bytes)


class Checkpointer:
    """The WAL copied into the store on a thread of its own (and its own connection) while a file is
    imported: SQLite releases the GIL while it copies, so the importing thread parses on, on the other core.

    Whoever writes the store holds ``quiet`` (the importer, or the detection results' writer thread,
    ``StreamDetector.write_behind``); the importer calls ``committed()`` after each batch. A checkpoint
    runs once the batches since the last one wrote about ``pages`` WAL frames (the store's autocheckpoint is
    off meanwhile): a first pass beside the import, then a second inside ``quiet``, which copies what the
    batches written during the first added, so the next batch starts the WAL over (it stays about ``pages``
    long, as with the autocheckpoint it stands for). Best effort: a failure stops it, and ``bulk_writes``'s
    final checkpoint makes the store durable as before.
    """

    def __init__(self, store: Store, pages: int, quiet: threading.Lock | None = None) -> None:
        self.quiet = quiet if quiet is not None else threading.Lock()
        self._store, self._pages = store, pages
        self._conn = store.conn()
        self._wake = threading.Event()
        self._stopping = False
        self._busy = False
        self._commits = 0
        self._every = 8  # batches between checkpoints, re-estimated from the frames each one finds
        self.runs = 0
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._thread: threading.Thread | None = threading.Thread(target=self._run, name="dunetrace-checkpoint",
                                                                  daemon=True)  # fmt: skip
        self._thread.start()

    def committed(self) -> None:
        self._commits += 1
        if not self._busy and self._commits >= self._every and self._thread is not None:
            self._busy = True
            self._wake.set()

    def _run(self) -> None:
        try:
            conn = self._store.connect()
        except Exception:  # noqa: BLE001 - best effort: the importer's final checkpoint still runs
            return
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                commits = max(self._commits, 1)  # the batches since the WAL started over
                try:
                    frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
                    with self.quiet:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                        self._commits = 0  # the next batch starts the WAL over
                except sqlite3.Error:
                    return
                self.runs += 1
                if frames > 0:
                    self._every = max(1, min(1000, round(self._pages * commits / frames)))
                self._busy = False
        finally:
            conn.close()

    def close(self) -> None:
        """Stop the thread (after the checkpoint it is in) and put the store's autocheckpoint back."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping = True
        self._wake.set()
        thread.join()
        try:
            self._conn.execute(f"PRAGMA wal_autocheckpoint={self._pages}")
        except sqlite3.Error:
            pass


def _total_bytes(specs: Sequence[str]) -> int | None:
    """The inputs' size on disk (None when one is a stream)."""
    total = 0
    for spec in specs:
        if spec == "-":
            return None
        try:
            total += os.stat(spec).st_size
        except OSError:
            pass
    return total


def _nothing_readable(summary: IngestSummary, first_lines: dict[str, str]) -> str:
    """The one sentence for an input of which no line was an event."""
    lines = f"all {summary.lines} line{'s' if summary.lines != 1 else ''}"
    pretty = [name for name, text in first_lines.items() if text.strip() in ("{", "[") or text.lstrip()[:1] == "["]
    if pretty:
        return (
            f"{pretty[0]} looks like one pretty-printed JSON document ({lines} rejected); `local ingest` expects "
            "JSON Lines, one SDK event per line: convert it with `jq -c '.[]'` (an array) or `jq -c .`."
        )
    return (
        f"No event could be read ({lines} rejected); `local ingest` expects JSON Lines with one SDK event "
        "(or one ingest body) per line, as the SDK's FileBatchingEmitter writes them."
    )
