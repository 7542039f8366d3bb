"""Writing validated events: one transaction per batch, de-duplication by event id, run bookkeeping.

Each ``runs`` row is an aggregate updated event by event (counts, first/last times, tokens, identity
from ``run.started``, the terminal event); a run whose terminal event arrived (or that was analysed and
got more events) is marked ``needs_detection``.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dunetrace_cli.local import aggregates
from dunetrace_cli.local import aggregates_defer as deferred
from dunetrace_cli.local.ingest.event import SIDE_TABLE_TYPES, TERMINAL_TYPES, Event
from dunetrace_cli.local.multirow import insert_rows
from dunetrace_cli.local.store import Store

_INT64 = 2**63 - 1


def _int_field(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return max(-_INT64, min(_INT64, int(value)))


_RUN_COLUMNS = (
    "run_id agent_id agent_version started_at completed_at first_received_at last_received_at event_count "
    "max_step parent_run_id processed_at trigger prompt_tokens completion_tokens reasoning_tokens model "
    "input_text conversation_id trace_id terminal_event_type has_started sdk_exit_reason dropped_events "
    "processed_event_count input_hash first_tool_step signal_count needs_detection processing_error "
    "llm_called_prompt_tokens llm_responded_prompt_tokens has_llm_events "
    "event_clock last_event_at last_write_at needs_reeval baseline_key"
).split()
_RUN_MUTABLE = [c for c in _RUN_COLUMNS if c not in ("run_id",)]


def _clamp(n: int) -> int:
    return max(-_INT64, min(_INT64, n))


def _add_int(total: int, value: Any) -> int:
    """``_clamp(total + _int_field({key: value}, key))``, without the calls for a plain int in range."""
    if value is None:
        return total if -_INT64 <= total <= _INT64 else _clamp(total)
    if type(value) is int and -_INT64 <= value <= _INT64:
        out = total + value
        return out if -_INT64 <= out <= _INT64 else _clamp(out)
    return _clamp(total + _int_field({"v": value}, "v"))


class _RunAcc:
    """Per-run aggregate kept on the ``runs`` row, updated event by event."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.r = row

    @classmethod
    def fresh(cls, ev: Event) -> _RunAcc:
        row = dict.fromkeys(_RUN_COLUMNS)
        row.update(
            run_id=ev.run_id,
            agent_id=ev.agent_id,
            agent_version=ev.agent_version,
            event_count=0,
            max_step=0,
            has_started=0,
            dropped_events=0,
            signal_count=0,
            needs_detection=0,
            llm_called_prompt_tokens=0,
            llm_responded_prompt_tokens=0,
            has_llm_events=0,
            event_clock=0,
            needs_reeval=0,
        )
        return cls(row)

    def add(self, ev: Event, received_at: float) -> None:
        """Fold one event in (``fold`` of a one-event list)."""
        self.fold([ev], received_at)

    def fold(self, evs: list[Event], received_at: float | None) -> None:
        """Fold the run's new events in, in order (``received_at`` None: each event's own timestamp).

        The hot figures are kept in locals over the events and stored once; the result is the row the
        event-by-event rules give (ties keep the earlier value, as ``min``/``max`` do).
        """
        r = self.r
        count, max_step, last_ev = r["event_count"], r["max_step"], r["last_event_at"]
        first_rx, last_rx = r["first_received_at"], r["last_received_at"]
        conv, trace, parent = r["conversation_id"], r["trace_id"], r["parent_run_id"]
        has_llm, called_p, resp_p = r["has_llm_events"], r["llm_called_prompt_tokens"], r["llm_responded_prompt_tokens"]
        compl, reas, model, first_tool = r["completion_tokens"], r["reasoning_tokens"], r["model"], r["first_tool_step"]
        for ev in evs:
            count += 1
            step = ev.step_index
            if step > max_step:
                max_step = step
            ts = ev.timestamp
            if last_ev is None or ts > last_ev:
                last_ev = ts
            rx = ts if received_at is None else received_at
            if first_rx is None or rx < first_rx:
                first_rx = rx
            if last_rx is None or rx > last_rx:
                last_rx = rx
            if conv is None and ev.conversation_id:
                conv = ev.conversation_id
            if trace is None and ev.trace_id:
                trace = ev.trace_id
            if parent is None and ev.parent_run_id:  # the first parent named (run.started's wins, below)
                parent = ev.parent_run_id
            et = ev.event_type
            if et == "llm.called":
                p = ev.payload
                has_llm = 1
                called_p = _add_int(called_p, p.get("prompt_tokens"))
                m = p.get("model")
                if model is None and isinstance(m, str) and m:
                    model = m
            elif et == "llm.responded":
                p = ev.payload
                has_llm = 1
                resp_p = _add_int(resp_p, p.get("prompt_tokens"))
                compl = _add_int(compl or 0, p.get("completion_tokens"))
                reas = _add_int(reas or 0, p.get("reasoning_tokens"))
            elif et == "tool.called":
                if first_tool is None or step < first_tool:
                    first_tool = step
            elif et == "run.started":
                p = ev.payload
                if not r["has_started"]:
                    r["started_at"] = ts
                    r["agent_id"] = ev.agent_id
                    r["agent_version"] = ev.agent_version
                    text = p.get("input_text")
                    if isinstance(text, str):
                        r["input_text"] = text
                        r["input_hash"] = hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - not security
                r["has_started"] = 1
                if ev.parent_run_id:
                    parent = ev.parent_run_id
            elif et in TERMINAL_TYPES:
                if r["terminal_event_type"] is None:
                    p = ev.payload
                    r["terminal_event_type"] = et
                    r["completed_at"] = ts
                    reason = p.get("exit_reason")
                    if et == "run.errored":
                        r["sdk_exit_reason"] = reason if isinstance(reason, str) and reason else "error"
                    else:
                        r["sdk_exit_reason"] = reason if isinstance(reason, str) and reason else "completed"
                    r["dropped_events"] = max(r["dropped_events"] or 0, max(0, _int_field(p, "dropped_events")))
        r["event_count"], r["max_step"], r["last_event_at"] = count, max_step, last_ev
        r["first_received_at"], r["last_received_at"] = first_rx, last_rx
        r["conversation_id"], r["trace_id"], r["parent_run_id"] = conv, trace, parent
        r["has_llm_events"], r["llm_called_prompt_tokens"], r["llm_responded_prompt_tokens"] = has_llm, called_p, resp_p
        r["completion_tokens"], r["reasoning_tokens"], r["model"], r["first_tool_step"] = compl, reas, model, first_tool
        if has_llm:
            r["prompt_tokens"] = resp_p if resp_p != 0 else called_p
            r["completion_tokens"] = compl or 0
            r["reasoning_tokens"] = reas or 0
        if evs and (r["terminal_event_type"] is not None or r["processed_at"] is not None):
            r["needs_detection"] = 1


_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events(event_id, run_id, agent_id, agent_version, event_type, step_index, timestamp, "
    "parent_run_id, trace_id, conversation_id, payload, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_POLICY_EVAL = (
    "INSERT OR IGNORE INTO policy_evaluations(event_id, run_id, agent_id, agent_version, step_index, timestamp, "
    "payload, received_at) VALUES (?,?,?,?,?,?,?,?)"
)


@dataclass
class WriteOutcome:
    new: int = 0
    duplicate: int = 0
    runs: set[str] = field(default_factory=set)
    ready_runs: set[str] = field(default_factory=set)  # runs that now need detection
    event_counts: dict[str, int] = field(default_factory=dict)  # run -> its stored events after the batch
    new_events: dict[str, list[Event]] = field(default_factory=dict)  # run -> the events this batch added
    run_times: dict[str, float] = field(default_factory=dict)  # run -> its end so far by its events
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # run -> (agent_id, agent_version)


def write_events(
    store: Store, events: Iterable[Event], *, received_at: float | None = None, event_clock: bool = False
) -> WriteOutcome:
    """Store a batch in ONE transaction (durable on return): new events inserted, duplicates skipped, runs updated.

    ``received_at`` is the server's arrival time (default: now). With ``event_clock`` (file input) each
    event's received time is its own timestamp instead, so the run keeps the time it ran at.
    """
    stamp = time.time() if received_at is None else received_at
    out = WriteOutcome()
    batch: list[Event] = []
    seen: set[object] = set()
    for ev in events:  # a batch may repeat an event (a retried chunk): the first copy counts
        key = ev.event_id if ev.event_type in SIDE_TABLE_TYPES else (ev.run_id, ev.event_id)  # as each table
        if key in seen:
            out.duplicate += 1
        else:
            seen.add(key)
            batch.append(ev)
    main = [ev for ev in batch if ev.event_type not in SIDE_TABLE_TYPES]
    side = [ev for ev in batch if ev.event_type in SIDE_TABLE_TYPES]
    with store.write() as conn:
        side_stored = _existing(conn, "policy_evaluations", [ev.event_id for ev in side])
        fresh = _insert_new(conn, main, stamp, event_clock)
        conn.executemany(
            _INSERT_POLICY_EVAL,
            [(ev.event_id, ev.run_id, ev.agent_id, ev.agent_version, ev.step_index, ev.timestamp, ev.payload_text,
              ev.timestamp if event_clock else stamp) for ev in side if ev.event_id not in side_stored],
        )  # fmt: skip
        stored = len(main) - len(fresh) + len(side_stored)
        out.new = len(batch) - stored
        out.duplicate += stored
        new_by_run: dict[str, list[Event]] = {}
        for ev in fresh:
            new_by_run.setdefault(ev.run_id, []).append(ev)
        rows = _rows(conn, list(new_by_run))
        inserts, updates = [], []
        for run_id, evs in new_by_run.items():
            row = rows.get(run_id)
            acc = _RunAcc({k: row[k] for k in _RUN_COLUMNS}) if row is not None else _RunAcc.fresh(evs[0])
            if row is None:
                acc.r["event_clock"] = 1 if event_clock else 0
            acc.fold(evs, None if event_clock else stamp)
            acc.r["last_write_at"] = stamp
            if row is None:
                inserts.append([acc.r[c] for c in _RUN_COLUMNS])
            else:
                updates.append([acc.r[c] for c in _RUN_MUTABLE] + [run_id])
            out.runs.add(run_id)
            out.groups[run_id] = (acc.r["agent_id"], acc.r["agent_version"])
            out.event_counts[run_id] = acc.r["event_count"]
            out.run_times[run_id] = acc.r["completed_at"] if acc.r["completed_at"] is not None else acc.r["last_event_at"]
            if acc.r["needs_detection"]:
                out.ready_runs.add(run_id)
        if inserts:
            with deferred.new_rows(conn, "runs", deferred.NEW_RUNS):  # their insert triggers, set-based
                insert_rows(conn, _INSERT_RUN, inserts)
        conn.executemany(_UPDATE_RUN, updates)
        with deferred.new_rows(conn, "run_llm", deferred.NEW_RUN_LLM):  # (only run_llm has insert triggers)
            aggregates.batch_written(conn, fresh, stamp=stamp, event_clock=event_clock)  # the read aggregates
    out.new_events = new_by_run
    return out


_INSERT_RUN = f"INSERT INTO runs({','.join(_RUN_COLUMNS)}) VALUES ({','.join('?' * len(_RUN_COLUMNS))})"
_UPDATE_RUN = f"UPDATE runs SET {','.join(c + '=?' for c in _RUN_MUTABLE)} WHERE run_id=?"


def _insert_new(conn: Any, events: list[Event], stamp: float, event_clock: bool) -> list[Event]:
    """Insert the events whose id is new; return them. One probe of the id index per event (the insert's
    own): when some were stored already, the rows this insert added are the ones after the newest before."""
    if not events:
        return []
    before = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    added_rows = insert_rows(
        conn,
        _INSERT_EVENT,
        [(ev.event_id, ev.run_id, ev.agent_id, ev.agent_version, ev.event_type, ev.step_index, ev.timestamp,
          ev.parent_run_id, ev.trace_id, ev.conversation_id, ev.payload_text,
          ev.timestamp if event_clock else stamp) for ev in events],
    )  # fmt: skip
    if added_rows == len(events):
        return events
    added = {(r[0], r[1]) for r in conn.execute("SELECT run_id, event_id FROM events WHERE seq > ?", (before,))}
    return [ev for ev in events if (ev.run_id, ev.event_id) in added]


def _existing(conn: Any, table: str, ids: list[str]) -> set[str]:
    """The ids among ``ids`` already stored in ``table`` (one indexed probe per 500)."""
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        found.update(
            r[0]
            for r in conn.execute(
                f"SELECT event_id FROM {table} WHERE event_id IN ({','.join('?' * len(chunk))})", chunk  # noqa: S608
            )
        )
    return found


def _rows(conn: Any, run_ids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(run_ids), 500):
        chunk = run_ids[i : i + 500]
        for row in conn.execute(f"SELECT * FROM runs WHERE run_id IN ({','.join('?' * len(chunk))})", chunk):  # noqa: S608
            out[row["run_id"]] = row
    return out
