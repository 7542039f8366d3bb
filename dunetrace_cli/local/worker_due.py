"""Which runs `local serve`'s ingest worker sends to detection now, in run-time order (the live stall rule,
docs/local-fidelity.md): stalled runs once silent for the stall timeout (event time and server time), and
completed runs once settled (see :mod:`dunetrace_cli.local.worker`)."""

from __future__ import annotations

import time
from typing import Any

from dunetrace_cli.local.stall import stalled_where
from dunetrace_cli.local.sweep import RUN_TIME_SQL


def due_runs(
    conn: Any, *, waiting: dict[str, float], ready_since: dict[str, float], inflight: set[str], wall: float,
    stall_seconds: float, reorder_s: float, hold_factor: float,
) -> list[tuple[float, str, str]]:  # fmt: skip
    """The runs due now, as (run time, run_id, "stalled" / "ready"); the ready ones taken out of ``waiting``
    (completed runs -> their run time) and ``ready_since`` (-> when each became ready, monotonic).

    A completed run is due ``reorder_s`` after it became ready, with the earlier ready runs of its agent
    version, once no unfinished run of that agent version with an earlier run time is still open; at most
    ``hold_factor`` stall timeouts after it became ready."""
    where, params = stalled_where(wall - stall_seconds, wall - stall_seconds)
    stalled = [
        (float(at), rid, "stalled")
        for rid, at in conn.execute(f"SELECT run_id, {RUN_TIME_SQL} FROM runs WHERE {where}", params)  # noqa: S608
        if rid not in inflight
    ]
    timed: list[tuple[float, str, str]] = list(stalled)
    if not waiting:
        return timed
    stalling = {rid for _, rid, _ in stalled}
    earliest: dict[tuple[str, str], tuple[float, str]] = {}  # agent version -> its earliest open run
    for rid, agent, version, at in conn.execute(
        f"SELECT run_id, agent_id, agent_version, {RUN_TIME_SQL} FROM runs "  # noqa: S608
        "WHERE processed_at IS NULL AND terminal_event_type IS NULL"
    ):
        if rid in stalling or rid in inflight:
            continue
        key, at_run = (agent, version), (float(at), rid)
        if key not in earliest or at_run < earliest[key]:
            earliest[key] = at_run
    groups = _groups(conn, list(waiting))
    t = time.monotonic()
    settled, limit = t - min(reorder_s, stall_seconds), t - hold_factor * stall_seconds
    cut: dict[tuple[str, str], tuple[float, str]] = {}  # agent version -> its newest settled run
    for rid, at in waiting.items():
        if ready_since.get(rid, 0.0) <= settled:
            key = groups.get(rid, ("", ""))
            if key not in cut or (at, rid) > cut[key]:
                cut[key] = (at, rid)
    for rid, at in list(waiting.items()):
        key = groups.get(rid, ("", ""))
        if ready_since.get(rid, 0.0) > limit:
            last = cut.get(key)
            if last is None or (at, rid) > last:
                continue  # ready just now: an earlier run of its agent version may still arrive
            first_open = earliest.get(key)
            if first_open is not None and first_open < (at, rid):
                continue  # an earlier run of its agent version may still stall: it goes first
        del waiting[rid]
        ready_since.pop(rid, None)
        timed.append((at, rid, "ready"))
    return timed


def _groups(conn: Any, run_ids: list[str]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(run_ids), 500):
        part = run_ids[i : i + 500]
        sql = f"SELECT run_id, agent_id, agent_version FROM runs WHERE run_id IN ({','.join('?' * len(part))})"  # noqa: S608
        out.update((r[0], (r[1], r[2])) for r in conn.execute(sql, part))
    return out
