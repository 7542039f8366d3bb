"""The stall rule as SQL (no SDK import: the read side probes it before every in-process read).

A run is stalled when it has ``run.started``, no terminal event, its last event is older than the stall
timeout (``last_received_at <= cutoff``: server arrival time for HTTP ingest, the event's own time for
file input) and, for the live sweeps, nothing was written to it for the stall timeout either.
"""

from __future__ import annotations

from typing import Any


def stalled_where(cutoff: float | None, wall_cutoff: float | None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of runs that are stalled at these cutoffs."""
    where = "processed_at IS NULL AND terminal_event_type IS NULL AND has_started=1"
    params: list[Any] = []
    if cutoff is not None:
        where += " AND last_received_at <= ?"
        params.append(cutoff)
    if wall_cutoff is not None:
        where += " AND COALESCE(last_write_at, last_received_at) <= ?"
        params.append(wall_cutoff)
    return where, params


def has_due_work(conn: Any, *, now: float, stall_seconds: float) -> bool:
    """Cheap (index probes): is a stalled run due, or a re-evaluation pending?"""
    where, params = stalled_where(now - stall_seconds, now - stall_seconds)
    if conn.execute(f"SELECT 1 FROM runs WHERE {where} LIMIT 1", params).fetchone():  # noqa: S608
        return True
    return conn.execute("SELECT 1 FROM runs WHERE needs_reeval=1 LIMIT 1").fetchone() is not None
