"""Sweeps of the local store: detect every run that is due, in run-time order.

Due runs are of three kinds: *ready* (a terminal event arrived, or late events reached a processed run),
*stalled* (``run.started``, no terminal event, silent for the stall timeout) and *re-evaluation* (an
earlier run reached the baselines after the run was analysed). They are detected together, oldest run
time first (the terminal event's timestamp, else the last event's), so that history-dependent detectors
see earlier runs first whatever the order the events arrived in; chunks of ``TXN_RUNS`` runs share one
write transaction and one read of their events.

The stall rule (docs/local-fidelity.md): a run is stalled when its last event is older than
``stall_seconds`` relative to ``max(now, reference)`` (``reference`` = the newest event of the input
just read) and, for the live sweeps, nothing was written to it for ``stall_seconds`` either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dunetrace_cli.local import baselines as bl
from dunetrace_cli.local.detect import RunDetection, detect_in, load_events_many, run_time
from dunetrace_cli.local.paths import DEFAULT_STALL_SECONDS
from dunetrace_cli.local.stall import stalled_where
from dunetrace_cli.local.store import Store

#: Runs detected per write transaction in a sweep (one fsync each; short enough not to stall ingest).
TXN_RUNS = 50
#: A run's run time in SQL (detect.run_time in Python): its terminal event, else its last event, else its start.
RUN_TIME_SQL = "COALESCE(completed_at, last_event_at, started_at, 0)"
_PRIORITY = {"ready": 0, "stalled": 1, "reeval": 2}


@dataclass
class SweepSummary:
    runs_completed: int = 0  # detected with trigger run.completed / run.errored
    runs_stalled: int = 0
    runs_redetected: int = 0
    runs_reevaluated: int = 0  # re-evaluations that changed something
    signals_found: int = 0  # new signal rows
    errors: list[str] = field(default_factory=list)

    @property
    def runs_changed(self) -> int:
        """Runs whose stored figures these detections wrote (every count but the signals and errors)."""
        return self.runs_completed + self.runs_stalled + self.runs_redetected + self.runs_reevaluated

    def add(self, det: RunDetection) -> None:
        if det.reevaluated:
            self.runs_reevaluated += 1 if det.changed else 0
        elif det.redetected:
            self.runs_redetected += 1
        elif det.trigger == "stalled":
            self.runs_stalled += 1
        else:
            self.runs_completed += 1
        self.signals_found += len(det.new_signals)
        if det.error:
            self.errors.append(f"{det.run_id}: {det.error}")


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def ready_run_ids(store: Store, *, limit: int = 500) -> list[str]:
    """Runs whose events detection has not seen yet and that are complete or already processed."""
    rows = store.conn().execute(
        f"SELECT run_id FROM runs WHERE needs_detection=1 ORDER BY {RUN_TIME_SQL}, run_id LIMIT ?", (limit,)
    ).fetchall()
    return [r[0] for r in rows]


def stalled_run_ids(
    store: Store, *, cutoff: float | None, limit: int = 500, wall_cutoff: float | None = None
) -> list[str]:
    """Unprocessed runs with ``run.started``, no terminal event and no event since ``cutoff``
    (``None`` = all of them, regardless of time)."""
    where, params = stalled_where(cutoff, wall_cutoff)
    sql = f"SELECT run_id FROM runs WHERE {where} ORDER BY {RUN_TIME_SQL}, run_id LIMIT ?"  # noqa: S608
    return [r[0] for r in store.conn().execute(sql, [*params, limit]).fetchall()]


def due_runs(
    conn: Any, *, stall: bool, cutoff: float | None, wall_cutoff: float | None, limit: int
) -> list[tuple[str, str]]:
    """(run_id, kind) of the next ``limit`` due runs in run-time order."""
    queries: list[tuple[str, str, list[Any]]] = [("ready", "needs_detection=1", []), ("reeval", "needs_reeval=1", [])]
    if stall:
        where, params = stalled_where(cutoff, wall_cutoff)
        queries.append(("stalled", where, params))
    found: dict[str, tuple[float, str]] = {}
    for kind, where, params in queries:
        for run_id, at in conn.execute(
            f"SELECT run_id, {RUN_TIME_SQL} FROM runs WHERE {where} ORDER BY {RUN_TIME_SQL}, run_id LIMIT ?",  # noqa: S608
            [*params, limit],
        ):
            prev = found.get(run_id)
            if prev is None or _PRIORITY[kind] < _PRIORITY[prev[1]]:
                found[run_id] = (float(at), kind)
    ranked = sorted(found.items(), key=lambda item: (item[1][0], item[0]))[:limit]
    return [(run_id, kind) for run_id, (_, kind) in ranked]


def detect_runs(
    store: Store,
    picks: list[tuple[str, str]],
    *,
    summary: SweepSummary,
    cache: bl.BaselineCache,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    events: dict[str, list[dict[str, Any]]] | None = None,
) -> bool:
    """Detect ``picks`` ((run_id, kind), kind "ready" / "stalled" / "reeval") in run-time order in ONE write
    transaction; ``events`` may hold runs' complete event lists already in memory. True if any was done."""
    progressed = False
    with store.write() as conn:
        ids = [run_id for run_id, _ in picks]
        rows: dict[str, Any] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            for r in conn.execute(f"SELECT * FROM runs WHERE run_id IN ({','.join('?' * len(part))})", part):  # noqa: S608
                rows[r["run_id"]] = r
        ordered = sorted((p for p in picks if p[0] in rows), key=lambda p: run_time(rows[p[0]]))
        known = events or {}
        missing = [rid for rid, kind in ordered if kind != "reeval" and rid not in known]
        loaded = load_events_many(conn, missing) if missing else {}
        for run_id, kind in ordered:
            det = detect_in(
                conn, run_id, now=None, stalled=kind == "stalled", recheck=kind, stall_seconds=stall_seconds,
                run=rows[run_id], events=known.get(run_id, loaded.get(run_id)), cache=cache,
            )  # fmt: skip
            if det is not None:
                summary.add(det)
                progressed = True
    return progressed


def sweep(
    store: Store,
    *,
    stall_seconds: float | None = DEFAULT_STALL_SECONDS,
    finalize_stalled: bool = False,
    now: Callable[[], float] = time.time,
    max_runs: int | None = None,
    reference: float | None = None,
    settled: bool = False,
    cache: bl.BaselineCache | None = None,
    summary: SweepSummary | None = None,
) -> SweepSummary:
    """Detect every due run, oldest run time first.

    ``finalize_stalled`` treats all unfinished runs as stalled now; ``stall_seconds=None`` disables the
    time-based stall rule. ``reference`` is the newest event time of the input just read (file input:
    a run silent for ``stall_seconds`` before it is stalled too). ``settled``: the caller knows its input
    is complete (``local ingest``), so runs written just now may be stalled by their events' clock alone.
    """
    summary = SweepSummary() if summary is None else summary
    stall = finalize_stalled or stall_seconds is not None
    stall_s = float(stall_seconds) if stall_seconds is not None else DEFAULT_STALL_SECONDS
    cache = bl.BaselineCache() if cache is None else cache
    done = 0
    while True:
        cutoff = wall_cutoff = None
        if not finalize_stalled and stall_seconds is not None:
            t = now()
            cutoff = max(t, reference if reference is not None else t) - stall_s
            wall_cutoff = None if settled else t - stall_s
        due = due_runs(store.conn(), stall=stall, cutoff=cutoff, wall_cutoff=wall_cutoff, limit=2000)
        if not due:
            break
        progressed = False
        for chunk in _chunks(due, TXN_RUNS):
            progressed = detect_runs(store, chunk, summary=summary, cache=cache, stall_seconds=stall_s) or progressed
            done += len(chunk)
            if max_runs is not None and done >= max_runs:
                return summary
        if not progressed:
            break
    return summary
