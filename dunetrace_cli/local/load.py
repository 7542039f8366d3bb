"""`dunetrace local ingest`: stream JSONL files into the store, then run detection.

File input keeps its own clock: every event is received at its own timestamp, so runs are placed,
bucketed and stalled by when they ran, not by when the file was imported (docs/local-fidelity.md).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from dunetrace_cli.errors import UsageError
from dunetrace_cli.local import baselines as bl
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
from dunetrace_cli.local.stall import stalled_where
from dunetrace_cli.local.store import Store
from dunetrace_cli.local.sweep import SweepSummary, detect_runs

#: Events written per transaction while streaming (one fsync each).
COMMIT_EVERY = 2000
#: Events of still-open runs kept in memory for their detection (beyond that they are re-read).
MAX_BUFFERED = 50_000


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
) -> IngestSummary:
    """Ingest every source in order, detecting each run as soon as its terminal event is stored, then
    the stalled (and, if asked, every unfinished) run.

    ``report`` gets each skipped line. ``progress(name, total_bytes)`` may return a hook called as
    bytes are consumed. Memory stays flat: at most ``commit_every`` events are parsed ahead, and the
    events of open runs are kept for their detection only up to ``MAX_BUFFERED`` (else re-read).
    Raises UsageError when no line of the input could be read (a pretty-printed JSON file, say).
    """
    started = time.monotonic()
    summary = IngestSummary(db=str(store.path))
    with bulk_writes(store):
        _ingest(store, specs, summary, report=report, progress=progress, finalize_stalled=finalize_stalled,
                stall_seconds=stall_seconds, commit_every=commit_every)  # fmt: skip
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


@contextmanager
def bulk_writes(store: Store) -> Iterator[None]:
    """Commits without an fsync each while a file is imported; one checkpoint makes it durable at the end.

    WAL with ``synchronous=NORMAL`` keeps the store consistent through a crash or power loss; what a power
    loss can cost is the last transactions, and importing the same file again restores them (events are
    de-duplicated by id, runs not yet detected are detected then). The store is durable when this returns.
    """
    conn = store.conn()
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous=FULL")
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
) -> None:
    pending: list[Event] = []
    newest: float | None = None  # the input's own "now": its newest event
    stall_s = float(stall_seconds) if stall_seconds is not None else detect.DEFAULT_STALL_SECONDS
    buffers: dict[str, list[Event]] = {}  # open runs' events, in arrival order
    buffered = 0
    cache = bl.BaselineCache()
    found = SweepSummary()
    waiting: dict[str, float] = {}  # ready runs -> their run time, detected once the input is a stall past it
    event_counts: dict[str, int] = {}  # run -> its stored events (after the last write)
    first_lines: dict[str, str] = {}

    def flush() -> None:
        nonlocal buffered
        if not pending:
            return
        outcome = write_events(store, pending, event_clock=True)
        event_counts.update(outcome.event_counts)
        summary.events_new += outcome.new
        summary.events_duplicate += outcome.duplicate
        pending.clear()
        for run_id, evs in outcome.new_events.items():
            buffers.setdefault(run_id, []).extend(evs)
            buffered += len(evs)
        for run_id in outcome.ready_runs:
            waiting[run_id] = outcome.run_times.get(run_id) or 0.0
        detect_due(newest - stall_s if newest is not None else None)
        if buffered > MAX_BUFFERED:  # runs that never finish: forget their events, detection re-reads them
            buffers.clear()
            buffered = 0

    def detect_due(watermark: float | None) -> None:
        """Detect, in run-time order, the runs that ended before ``watermark`` (every ready run if None):
        waiting for the stall timeout in the input's own time lets an earlier run that stalled come first."""
        nonlocal buffered
        timed = [(at, r, "ready") for r, at in waiting.items() if watermark is None or at <= watermark]
        if watermark is not None and stall_seconds is not None:
            timed += [(at, r, "stalled") for r, at in stalled_by(store, watermark)]
        if not timed:
            return
        timed.sort()
        picks = [(r, kind) for _, r, kind in timed]
        events: dict[str, list[dict[str, Any]]] = {}
        for run_id, _kind in picks:
            waiting.pop(run_id, None)
            evs = buffers.pop(run_id, [])
            buffered -= len(evs)
            if evs and len(evs) == event_counts.get(run_id):  # all of the run's events are in memory
                events[run_id] = _replay_order(evs)
        for i in range(0, len(picks), 500):
            detect_runs(store, picks[i : i + 500], summary=found, cache=cache, stall_seconds=stall_s, events=events)

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
                        flush()
                if hook is not None:
                    now = time.monotonic()
                    if now - last_tick > 0.1:
                        last_tick = now
                        hook(src.name, src.counter.count, src.total_bytes)
            flush()
        finally:
            src.close()
        if hook is not None:
            hook(src.name, src.counter.count, src.total_bytes)
    flush()
    detect_due(None)
    if summary.events_rejected and summary.events_rejected == summary.lines:
        raise NothingReadable(_nothing_readable(summary, first_lines), summary)

    sweep = detect.sweep(
        store, stall_seconds=stall_seconds, finalize_stalled=finalize_stalled, reference=newest, settled=True,
        cache=cache, summary=found,
    )  # fmt: skip
    summary.runs_completed = sweep.runs_completed
    summary.runs_stalled = sweep.runs_stalled
    summary.runs_redetected = sweep.runs_redetected
    summary.runs_reevaluated = sweep.runs_reevaluated
    summary.signals_found = sweep.signals_found
    summary.detection_errors = sweep.errors
    summary.runs_pending = store.conn().execute("SELECT COUNT(*) FROM runs WHERE processed_at IS NULL").fetchone()[0]


def stalled_by(store: Store, watermark: float) -> list[tuple[str, float]]:
    """Unfinished runs whose last event is older than ``watermark`` (this input's own time, less the
    stall), with their run time."""
    where, params = stalled_where(watermark, None)
    sql = f"SELECT run_id, COALESCE(last_event_at, started_at, 0) FROM runs WHERE {where}"  # noqa: S608
    return [(r[0], float(r[1])) for r in store.conn().execute(sql, params)]


def _replay_order(events: list[Event]) -> list[dict[str, Any]]:
    """A run's events as detection reads them from the store: step, then time, then arrival."""
    ordered = sorted(events, key=lambda e: (e.step_index, e.timestamp))
    return [e.to_sdk_dict() for e in ordered]


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
