"""Detection for the local store: what the latest backend's detector worker does, run in-process.

For a run that completed (``run.completed``/``run.errored`` received) or stalled (``run.started`` but no
terminal event and silent for ``stall_seconds``):

1. rebuild its state from its events with the SDK's ``build_run_state``;
2. give it cross-run baselines (:mod:`dunetrace_cli.local.baselines`): P75 of each metric over the newest
   50 clean runs of the same agent and agent_version that ended earlier (run time, not arrival), each
   needing at least 20 samples (the latest backend's rule);
3. run the SDK's TIER1 detectors, add PROMPT_INJECTION_SIGNAL, and for child runs HANDOFF_CONTEXT_LOSS and
   DELEGATION_LOOP (:mod:`dunetrace_cli.local.crossrun`);
4. post-process like the server: types outside the live set are stored as shadow, the SDK's
   RiskEngine hard override, the co-occurrence boost (x1.15/1.30/1.40 and ``co_signal_count``), and
   runs whose SDK buffer shed events get every signal in shadow with capped confidence/severity;
5. store one signal per (run, failure_type) -- re-detection after late events adds only new types, as
   on the backend -- and mark the run processed (``processed_at``, ``trigger``).

A re-evaluation (``runs.needs_reeval``: an earlier run reached the baselines later) recomputes the run's
signals exactly, so the final answer is the one in-order processing gives. The sweeps are in
:mod:`dunetrace_cli.local.sweep` (re-exported here).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from dunetrace.detectors import TIER1_DETECTORS
from dunetrace.models import FailureSignal, RunState, Severity
from dunetrace.risk_engine import RiskEngine
from dunetrace.run_builder import build_run_state

from dunetrace_cli.lazy import lazy_exports
from dunetrace_cli.local import baselines as bl
from dunetrace_cli.local import detect_record as rec
from dunetrace_cli.local.crossrun import cross_run_signals, injection_signal
from dunetrace_cli.local.ingest import dumps_compact
from dunetrace_cli.local.paths import DEFAULT_STALL_SECONDS
from dunetrace_cli.local.store import Store

# The SDK's detectors log (and a raising detector logs a traceback); keep that off the user's terminal.
logging.getLogger("dunetrace").addHandler(logging.NullHandler())
logging.getLogger("dunetrace").propagate = False

MIN_BASELINE_RUNS = bl.MIN_BASELINE_RUNS
BASELINE_LOOKBACK = bl.BASELINE_LOOKBACK
BASELINE_FIELDS = bl.BASELINE_FIELDS
baselines = bl.baselines
detector_config = bl.detector_config
p75 = bl.p75
run_metrics = bl.run_metrics

#: Failure types written live by the latest backend; anything else is stored with shadow=1.
LIVE_TYPES: frozenset[str] = frozenset(
    {
        "PROMPT_INJECTION_SIGNAL", "TOOL_LOOP", "TOOL_THRASHING", "TOOL_AVOIDANCE", "GOAL_ABANDONMENT",
        "RAG_EMPTY_RETRIEVAL", "LLM_TRUNCATION_LOOP", "CONTEXT_BLOAT", "SLOW_STEP", "RETRY_STORM",
        "EMPTY_LLM_RESPONSE", "STEP_COUNT_INFLATION", "CASCADING_TOOL_FAILURE", "FIRST_STEP_FAILURE",
        "REASONING_STALL", "COST_SPIKE", "SESSION_LATENCY", "PREMATURE_TERMINATION", "UNREAD_TOOL_ERROR",
        "TOOL_ARGUMENT_FABRICATION", "RETRIEVED_CONTENT_INJECTION", "HANDOFF_CONTEXT_LOSS",
        "RUNAWAY_ITERATION", "EXCESSIVE_RETRIEVAL", "SILENT_TRUNCATION", "AGENT_HANDOFF_FAILURE",
        "MODEL_FALLBACK_DRIFT", "MEMORY_POISONING", "DELEGATION_LOOP", "UNGROUNDED_DESTINATION",
    }
)  # fmt: skip

_COOCCURRENCE = {2: 1.15, 3: 1.30}
_COOCCURRENCE_MAX = 1.40
_INCOMPLETE_CONFIDENCE_CAP = 0.5
_EVENT_COLUMNS = (
    "event_type, run_id, agent_id, agent_version, step_index, timestamp, payload, parent_run_id, "
    "trace_id, conversation_id, event_id"
)


# ── events ────────────────────────────────────────────────────────────────────────────────────
def _event_dict(r: Any) -> dict[str, Any]:
    try:
        payload = json.loads(r[6])
    except ValueError:
        payload = {}
    return {
        "event_type": r[0], "run_id": r[1], "agent_id": r[2], "agent_version": r[3], "step_index": r[4],
        "timestamp": r[5] if r[5] is not None else 0.0, "payload": payload if isinstance(payload, dict) else {},
        "parent_run_id": r[7], "trace_id": r[8], "conversation_id": r[9], "event_id": r[10],
    }  # fmt: skip


def load_events(conn: Any, run_id: str, *, max_seq: int | None = None) -> list[dict[str, Any]]:
    """One run's stored events in replay order (step, then time, then arrival); ``max_seq``: only those
    stored by then (what another process saw at that moment)."""
    upto = "" if max_seq is None else f" AND seq <= {int(max_seq)}"
    rows = conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id=?{upto} "  # noqa: S608
        "ORDER BY step_index, COALESCE(timestamp, 0), seq",
        (run_id,),
    ).fetchall()
    return [_event_dict(r) for r in rows]


def load_events_many(conn: Any, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Several runs' events in one query (a sweep's chunk)."""
    out: dict[str, list[dict[str, Any]]] = {r: [] for r in run_ids}
    if not run_ids:
        return out
    rows = conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id IN ({','.join('?' * len(run_ids))}) "  # noqa: S608
        "ORDER BY run_id, step_index, COALESCE(timestamp, 0), seq",
        run_ids,
    ).fetchall()
    for r in rows:
        out[r[1]].append(_event_dict(r))
    return out


# ── the detectors ─────────────────────────────────────────────────────────────────────────────
def _run_tier1(state: RunState) -> list[FailureSignal]:
    """The SDK's ``run_detectors(state)`` (analytics context): every TIER1 detector, a raising one skipped."""
    out = []
    for detector in TIER1_DETECTORS:
        try:
            signal = detector.on_run_completion(state)
        except Exception:  # noqa: BLE001 - one detector must not cost the run its other ones (the SDK's rule)
            continue
        if signal:
            out.append(signal)
    return out


def _post_process(signals: list[FailureSignal], state: RunState, incomplete: bool) -> None:
    live = [] if incomplete else [s for s in signals if s.failure_type.value in LIVE_TYPES]
    if live:
        risk = RiskEngine().evaluate(live, state)
        if risk.severity:
            severity = Severity(risk.severity)
            for s in live:
                s.severity = severity
                s.confidence = round(min(1.0, risk.confidence), 4)
        n = len(live)
        if n >= 2:
            factor = _COOCCURRENCE.get(n, _COOCCURRENCE_MAX)
            for s in live:
                s.confidence = round(min(1.0, s.confidence * factor), 4)
                s.co_signal_count = n
    if incomplete:
        for s in signals:
            if not isinstance(s.evidence, dict):
                s.evidence = {}
            s.evidence["incomplete_data"] = {"dropped_events": state.dropped_events, "reason": "sdk_buffer_shed"}
            s.confidence = round(min(s.confidence, _INCOMPLETE_CONFIDENCE_CAP), 4)
            if s.severity in (Severity.CRITICAL, Severity.HIGH):
                s.severity = Severity.MEDIUM


def _enum_value(x: Any) -> str:
    value = getattr(x, "_value_", None)  # an enum member's own attribute: no trip through Enum's descriptor
    if isinstance(value, str):
        return value
    return x.value if hasattr(x, "value") else str(x)


@dataclass
class Outcome:
    rows: list[tuple[Any, ...]]  # (failure_type, severity, step, confidence, evidence, shadow, co, det_sev, det_conf)
    metrics: dict[str, float | None] | None
    error: str | None = None


def evaluate(
    conn: Any, run: Any, events: list[dict[str, Any]], base: dict[str, float | None], *,
    max_seq: int | None = None, chain: list[str] | None = None,
) -> Outcome:  # fmt: skip
    """Every signal row for one run (post-processed), and its metrics for the baselines.

    ``max_seq``/``chain``: the store as another process saw it (see ``load_events``, ``crossrun.lineage``)."""
    if not events:
        return Outcome([], None)
    try:
        state = build_run_state(events)
        # The first event decides identity in build_run_state; prefer run.started's (as stored).
        state.agent_id, state.agent_version = run["agent_id"], run["agent_version"]
        incomplete = state.dropped_events > 0
        for column, value in base.items():
            setattr(state, bl.BASELINE_FIELDS[column], value)
        found = _run_tier1(state)
        inj = injection_signal(events, run)
        if inj:
            found.append(inj)
        found.extend(cross_run_signals(conn, run, events, max_seq, chain))
        seen: set[str] = set()
        unique = []
        for s in found:
            ft = _enum_value(s.failure_type)
            if ft not in seen:
                seen.add(ft)
                unique.append(s)
        raw = {id(s): (_enum_value(s.severity), float(s.confidence)) for s in unique}
        _post_process(unique, state, incomplete)
        metrics = None if incomplete else bl.run_metrics(state)
    except Exception as exc:  # noqa: BLE001 - a bad run must not stop detection of the others
        return Outcome([], None, f"{type(exc).__name__}: {exc}"[:2000])
    rows = []
    for s in unique:
        ft = _enum_value(s.failure_type)
        evidence = s.evidence if isinstance(s.evidence, dict) else {"value": s.evidence}
        try:
            evidence_text = dumps_compact(evidence)
        except (ValueError, TypeError, RecursionError):
            evidence_text = dumps_compact({"unserialisable_evidence": str(evidence)[:2000]})
        det_sev, det_conf = raw[id(s)]
        shadow = 1 if (incomplete or ft not in LIVE_TYPES) else 0
        rows.append((ft, _enum_value(s.severity), int(s.step_index or 0), float(s.confidence), evidence_text,
                     shadow, int(s.co_signal_count or 0), det_sev, det_conf))  # fmt: skip
    return Outcome(rows, metrics)


# ── detection of one run ──────────────────────────────────────────────────────────────────────
@dataclass
class RunDetection:
    run_id: str
    trigger: str
    new_signals: list[str] = field(default_factory=list)  # failure types inserted by this pass
    all_types: list[str] = field(default_factory=list)  # types the detectors reported this pass
    error: str | None = None
    redetected: bool = False  # the run had been processed before (late events)
    reevaluated: bool = False  # an earlier run changed its baselines
    changed: bool = True  # a re-evaluation changed something


def run_time(run: Any) -> tuple[float, str]:
    """A run's place in time by its own events: its terminal event, else its last event."""
    at = run["completed_at"]
    if at is None:
        at = run["last_event_at"] if run["last_event_at"] is not None else (run["started_at"] or 0.0)
    return float(at), run["run_id"]


def detect_run(store: Store, run_id: str, *, now: float | None = None, stalled: bool = False) -> RunDetection | None:
    """Detect one run and record the result (one write transaction). Returns None if the run is unknown
    or neither complete nor stalled.

    ``stalled`` marks a run without a terminal event as stalled; a run with a terminal event always
    uses that event's type as its trigger.
    """
    with store.write() as conn:
        return detect_in(conn, run_id, now=now, stalled=stalled)


def detect_in(
    conn: Any,
    run_id: str,
    *,
    now: float | None,
    stalled: bool,
    recheck: str | None = None,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    run: Any = None,
    events: list[dict[str, Any]] | None = None,
    cache: bl.BaselineCache | None = None,
    max_seq: int | None = None,
    chain: list[str] | None = None,
) -> RunDetection | None:
    """Detection of one run inside the caller's write transaction (so it sees earlier runs' results).

    ``recheck`` ("ready" / "stalled" / "reeval") re-verifies, under the write lock, that the run still
    needs it: another process (a server and a `local ingest` on one file) may have just done it.
    ``run``/``events`` may be passed pre-loaded (a sweep loads a chunk at once); ``max_seq``/``chain``:
    the store as of an earlier moment (see ``evaluate``).
    """
    if run is None:
        run = conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
    if run is None:
        return None
    if recheck == "ready" and not run["needs_detection"]:
        return None
    if recheck == "stalled" and (run["processed_at"] is not None or run["terminal_event_type"] is not None):
        return None
    if recheck == "reeval" and (not run["needs_reeval"] or run["processed_at"] is None):
        return None
    trigger = run["terminal_event_type"] or ("stalled" if stalled or run["trigger"] == "stalled" else None)
    if trigger is None:
        return None  # neither complete nor stalled: nothing to do yet
    replace = recheck == "reeval" and not run["needs_detection"]
    result = RunDetection(run_id=run_id, trigger=trigger, redetected=run["processed_at"] is not None and not replace,
                          reevaluated=replace)  # fmt: skip
    at = run_time(run)
    agent, version = run["agent_id"], run["agent_version"]
    if cache is not None:
        base, key = cache.get_keyed(conn, agent, version, at)
    else:
        base = bl.baselines(conn, agent, version, before=at)
        key = bl.baseline_key(base)
    if replace and key == run["baseline_key"]:
        conn.execute("UPDATE runs SET needs_reeval=0 WHERE run_id=?", (run_id,))
        result.changed = False
        if cache is not None:
            rec.cache_add_stored(conn, cache, run_id, agent, version, at)
        return result
    if events is None:
        events = load_events(conn, run_id, max_seq=max_seq)
    outcome = evaluate(conn, run, events, base, max_seq=max_seq, chain=chain)
    at_tip = cache is not None and cache.at_tip(agent, version, at)
    rec.record(conn, run, result, at, outcome, key, len(events), now=now, replace=replace,
               stall_seconds=stall_seconds, cache=cache, at_tip=at_tip)  # fmt: skip
    return result


# The sweeps (local/sweep.py) build on detect_in; re-exported here lazily, so neither module imports
# the other while loading (no import cycle).
__getattr__ = lazy_exports(
    "dunetrace_cli.local", dict.fromkeys(("SweepSummary", "ready_run_ids", "stalled_run_ids", "sweep"), "sweep"), globals()
)

__all__ = [
    "DEFAULT_STALL_SECONDS", "LIVE_TYPES", "MIN_BASELINE_RUNS", "RunDetection", "baselines",
    "detect_in", "detect_run", "detector_config", "load_events", "run_metrics",
]  # fmt: skip
