"""`dunetrace local ingest`: stream JSONL files into the store, then run detection.

File input keeps its own clock: every event is received at its own timestamp, so runs are placed,
bucketed and stalled by when they ran, not by when the file was imported (docs/local-fidelity.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from dunetrace_cli.local import detect
from dunetrace_cli.local.ingest import Event, LineProblem, ValidationFailed, iter_lines, open_source, parse_line, write_events
from dunetrace_cli.local.store import Store

#: Events written per transaction while streaming (one fsync each).
COMMIT_EVERY = 2000


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
    runs_pending: int = 0
    signals_found: int = 0
    seconds: float = 0.0
    detection_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    """Ingest every source in order, then detect completed (and, if asked, unfinished) runs.

    ``report`` gets each skipped line. ``progress(name, total_bytes)`` may return a hook called as
    bytes are consumed. Memory stays flat: at most ``commit_every`` events are held at once.
    """
    started = time.monotonic()
    summary = IngestSummary(db=str(store.path))
    pending: list[Event] = []
    newest: float | None = None  # the input's own "now": its newest event

    def flush() -> None:
        if pending:
            outcome = write_events(store, pending, event_clock=True)
            summary.events_new += outcome.new
            summary.events_duplicate += outcome.duplicate
            pending.clear()

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

    sweep = detect.sweep(
        store, stall_seconds=stall_seconds, finalize_stalled=finalize_stalled, reference=newest, settled=True
    )
    summary.runs_completed = sweep.runs_completed
    summary.runs_stalled = sweep.runs_stalled
    summary.runs_redetected = sweep.runs_redetected
    summary.signals_found = sweep.signals_found
    summary.detection_errors = sweep.errors
    summary.runs_pending = store.conn().execute("SELECT COUNT(*) FROM runs WHERE processed_at IS NULL").fetchone()[0]
    summary.seconds = round(time.monotonic() - started, 3)
    return summary
