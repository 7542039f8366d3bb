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
    stall_seconds: float, reorder_s: float, hold_factor: float, queued: frozenset[str] | set[str] = frozenset(),
    groups: dict[str, tuple[str, str]] | None = None,
) -> list[tuple[float, str, str]]:  # fmt: skip
    """The runs due now, as (run time, run_id, "stalled" / "ready"); the ready ones taken out of ``waiting``
    (completed runs -> their run time) and ``ready_since`` (-> when each became ready, monotonic). A run
    with events in ``queued`` (accepted, not written yet) is not stalled: the store's times are not its last.

    A completed run is due ``reorder_s`` after it became ready, with the earlier ready runs of its agent
    version, once no unfinished run of that agent version with an earlier run time is still open; at most
    ``hold_factor`` stall timeouts after it became ready. A stalled run waits while a completed run of its
    agent version with an earlier run time is not due yet (it became ready in the same commit, say): both
    go in run-time order, so the detection process never gets an earlier run after a later one of the same
    agent version (it would hand that agent version back to this process for good). ``groups``: the
    waiting runs' agent versions as far as the caller knows them (the rest are read)."""
    where, params = stalled_where(wall - stall_seconds, wall - stall_seconds)
    sql = f"SELECT run_id, agent_id, agent_version, {RUN_TIME_SQL} FROM runs WHERE {where}"  # noqa: S608
    stalled = {rid: ((agent, version), float(at)) for rid, agent, version, at in conn.execute(sql, params)
               if rid not in inflight and rid not in queued}  # fmt: skip
    if not waiting:
        return [(at, rid, "stalled") for rid, (_, at) in stalled.items()]
    stalling = set(stalled)
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
    group_of = groups or {}
    missing = [rid for rid in waiting if rid not in group_of]
    if missing:
        group_of = {**group_of, **_groups(conn, missing)}
    t = time.monotonic()
    settled, limit = t - min(reorder_s, stall_seconds), t - hold_factor * stall_seconds
    cut: dict[tuple[str, str], tuple[float, str]] = {}  # agent version -> its newest settled run
    for rid, at in waiting.items():
        if ready_since.get(rid, 0.0) <= settled:
            key = group_of.get(rid, ("", ""))
            if key not in cut or (at, rid) > cut[key]:
                cut[key] = (at, rid)
    timed: list[tuple[float, str, str]] = []
    kept: dict[tuple[str, str], tuple[float, str]] = {}  # agent version -> its earliest ready run not due yet
    for rid, at in list(waiting.items()):
        key = group_of.get(rid, ("", ""))
        if ready_since.get(rid, 0.0) > limit:
            last = cut.get(key)
            first_open = earliest.get(key)
            # ready just now (an earlier run of its agent version may still arrive), or an earlier run of its
            # agent version may still stall (it goes first)
            if last is None or (at, rid) > last or (first_open is not None and first_open < (at, rid)):
                if key not in kept or (at, rid) < kept[key]:
                    kept[key] = (at, rid)
                continue
        del waiting[rid]
        ready_since.pop(rid, None)
        timed.append((at, rid, "ready"))
    for rid, (key, at) in stalled.items():
        first_kept = kept.get(key)
        if first_kept is None or first_kept > (at, rid):
            timed.append((at, rid, "stalled"))
    return timed


def _groups(conn: Any, run_ids: list[str]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(run_ids), 500):
        part = run_ids[i : i + 500]
        sql = f"SELECT run_id, agent_id, agent_version FROM runs WHERE run_id IN ({','.join('?' * len(part))})"  # noqa: S608
        out.update((r[0], (r[1], r[2])) for r in conn.execute(sql, part))
    return out
