"""Detection for the local store: what the latest backend's detector worker does, run in-process.

For a run that completed (``run.completed``/``run.errored`` received) or stalled (``run.started`` but no
terminal event and nothing received for ``stall_seconds``):

1. rebuild its state from its stored events with the SDK's ``build_run_state``;
2. give it cross-run baselines: P75 of each metric over the newest 50 clean, earlier-processed runs of
   the same agent and agent_version, each needing at least 20 samples (the latest backend's rule);
3. run the SDK's ``run_detectors`` (TIER1), add PROMPT_INJECTION_SIGNAL from ``run.started``'s
   ``injection_signal``, and for child runs HANDOFF_CONTEXT_LOSS and DELEGATION_LOOP;
4. post-process like the server: types outside the live set are stored as shadow, the SDK's
   RiskEngine hard override, the co-occurrence boost (x1.15/1.30/1.40 and ``co_signal_count``), and
   runs whose SDK buffer shed events get every signal in shadow with capped confidence/severity;
5. store one signal per (run, failure_type) -- re-detection after late events adds only new types --
   and mark the run processed (``processed_at``, ``trigger``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dunetrace.detectors import (
    TIER1_DETECTORS,
    DelegationLoopDetector,
    HandoffContextLossDetector,
    run_detectors,
)
from dunetrace.models import FailureSignal, FailureType, RunState, Severity
from dunetrace.risk_engine import RiskEngine
from dunetrace.run_builder import build_run_state

from dunetrace_cli.local.ingest import dumps_compact
from dunetrace_cli.local.store import Store

# The SDK's detectors log (and a raising detector logs a traceback); keep that off the user's terminal.
logging.getLogger("dunetrace").addHandler(logging.NullHandler())
logging.getLogger("dunetrace").propagate = False

from dunetrace_cli.local.paths import DEFAULT_STALL_SECONDS  # noqa: E402  (re-exported)
MIN_BASELINE_RUNS = 20
BASELINE_LOOKBACK = 50
#: Runs detected per write transaction in a sweep (one fsync each; short enough not to stall ingest).
TXN_RUNS = 50

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
_MAX_LINEAGE = 64

#: metric column -> RunState baseline field
BASELINE_FIELDS: dict[str, str] = {
    "steps": "baseline_p75_steps",
    "tool_latency_ms": "baseline_p75_latency_tool",
    "llm_latency_ms": "baseline_p75_latency_llm",
    "token_growth": "baseline_p75_token_growth",
    "llm_tool_ratio": "baseline_p75_llm_tool_ratio",
    "total_tokens": "baseline_p75_total_tokens",
    "duration_s": "baseline_p75_duration_s",
}
#: metric column -> key in the SDK's GET /v1/detector-config ``baselines``
BASELINE_CONFIG_KEYS: dict[str, str] = {
    "steps": "p75_steps",
    "tool_latency_ms": "p75_latency_tool_ms",
    "llm_latency_ms": "p75_latency_llm_ms",
    "token_growth": "p75_token_growth",
    "llm_tool_ratio": "p75_llm_tool_ratio",
    "total_tokens": "p75_total_tokens",
    "duration_s": "p75_duration_s",
}


# ── per-run metrics and baselines ─────────────────────────────────────────────────────────────
def p75(values: list[float]) -> float | None:
    """Linear-interpolated 75th percentile (Postgres PERCENTILE_CONT(0.75))."""
    if not values:
        return None
    ordered = sorted(values)
    pos = 0.75 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def _gaps_after(state: RunState, event_type: str) -> list[float]:
    ordered = sorted(state.events, key=lambda e: (e.step_index, e.timestamp))
    gaps = []
    for i, ev in enumerate(ordered[:-1]):
        if ev.event_type.value == event_type:
            gap = (ordered[i + 1].timestamp - ev.timestamp) * 1000.0
            if gap >= 0:
                gaps.append(gap)
    return gaps


def run_metrics(state: RunState) -> dict[str, float | None]:
    """The per-run figures the baselines aggregate. None = the run does not qualify for that baseline
    (mirrors the guard of the detector the baseline feeds)."""
    total = sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) + (c.reasoning_tokens or 0) for c in state.llm_calls)
    stamps = [e.timestamp for e in state.events]
    duration = (max(stamps) - min(stamps)) if len(stamps) >= 2 else None
    with_tokens = [c for c in state.llm_calls if c.prompt_tokens is not None and c.prompt_tokens > 0]
    growth = None
    if len(with_tokens) >= 3:
        first, last = with_tokens[0].prompt_tokens or 0, with_tokens[-1].prompt_tokens or 0
        if first >= 10 and last >= 2000:
            growth = last / first
    ratio = len(state.llm_calls) / max(len(state.tool_calls), 1) if len(state.llm_calls) >= 5 else None
    return {
        "steps": float(max((e.step_index for e in state.events), default=0)),
        "tool_latency_ms": p75(_gaps_after(state, "tool.called")),
        "llm_latency_ms": p75(_gaps_after(state, "llm.called")),
        "token_growth": growth,
        "llm_tool_ratio": ratio,
        "total_tokens": float(total) if total > 0 else None,
        "duration_s": duration if (duration or 0) > 0 else None,
    }


def baselines(
    conn: Any, agent_id: str, agent_version: str, *, exclude_run: str = "", min_runs: int | None = None
) -> dict[str, float | None]:
    """P75 per metric over the newest clean runs of this agent version (None below ``min_runs`` samples)."""
    need = MIN_BASELINE_RUNS if min_runs is None else min_runs
    out: dict[str, float | None] = {}
    for column in BASELINE_FIELDS:  # each served by its partial index (see schema.py)
        rows = conn.execute(
            f"SELECT {column} FROM run_metrics WHERE agent_id=? AND agent_version=? AND run_id != ? "  # noqa: S608
            f"AND clean=1 AND {column} IS NOT NULL ORDER BY processed_at DESC LIMIT ?",
            (agent_id, agent_version, exclude_run, BASELINE_LOOKBACK),
        ).fetchall()
        values = [float(r[0]) for r in rows]
        out[column] = p75(values) if len(values) >= need else None
    return out


# ── cross-run detectors ───────────────────────────────────────────────────────────────────────
def _context_text(events: list[dict[str, Any]]) -> str:
    parts = []
    for e in events:
        p = e.get("payload") or {}
        if e["event_type"] == "run.started" and isinstance(p.get("input_text"), str):
            parts.append(p["input_text"])
        elif e["event_type"] in ("llm.responded", "tool.responded") and isinstance(p.get("output"), str):
            parts.append(p["output"])
    return "\n".join(p for p in parts if p)


def _find_agent_cycle(chain_agents: list[str]) -> list[str] | None:
    """A cycle in the directed agent-delegation graph (parent agent -> child agent), e.g. ['A','B','A']."""
    edges: dict[str, list[str]] = {}
    for parent, child in zip(chain_agents, chain_agents[1:]):
        if child not in edges.setdefault(parent, []):
            edges[parent].append(child)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in list(edges):
        if state.get(start) is None:
            found = visit(start)
            if found:
                return found
    return None


# ── detection of one run ──────────────────────────────────────────────────────────────────────
@dataclass
class RunDetection:
    run_id: str
    trigger: str
    new_signals: list[str] = field(default_factory=list)  # failure types inserted by this pass
    all_types: list[str] = field(default_factory=list)  # types the detectors reported this pass
    error: str | None = None
    redetected: bool = False  # the run had been processed before (late events)


def _load_events(conn: Any, run_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT event_type, run_id, agent_id, agent_version, step_index, timestamp, payload, parent_run_id, "
        "trace_id, conversation_id, event_id FROM events WHERE run_id=? "
        "ORDER BY step_index, COALESCE(timestamp, 0), seq",
        (run_id,),
    ).fetchall()
    out = []
    for r in rows:
        try:
            payload = json.loads(r["payload"])
        except ValueError:
            payload = {}
        out.append(
            {
                "event_type": r["event_type"],
                "run_id": r["run_id"],
                "agent_id": r["agent_id"],
                "agent_version": r["agent_version"],
                "step_index": r["step_index"],
                "timestamp": r["timestamp"] if r["timestamp"] is not None else 0.0,
                "payload": payload if isinstance(payload, dict) else {},
                "parent_run_id": r["parent_run_id"],
                "trace_id": r["trace_id"],
                "conversation_id": r["conversation_id"],
                "event_id": r["event_id"],
            }
        )
    return out


def _injection(events: list[dict[str, Any]], run: Any) -> FailureSignal | None:
    for e in events:
        if e["event_type"] != "run.started":
            continue
        evidence = (e.get("payload") or {}).get("injection_signal")
        if not evidence:
            continue
        if not isinstance(evidence, dict):
            evidence = {"injection_signal": evidence}
        matched = evidence.get("matched_pattern_count", 1)
        if isinstance(matched, bool) or not isinstance(matched, (int, float)):
            matched = 1
        return FailureSignal(
            failure_type=FailureType.PROMPT_INJECTION_SIGNAL,
            severity=Severity.CRITICAL,
            run_id=run["run_id"],
            agent_id=run["agent_id"],
            agent_version=run["agent_version"],
            step_index=0,
            confidence=max(0.0, min(1.0, 0.5 + (float(matched) - 1.0) * 0.4)),
            evidence=evidence,
        )
    return None


def _cross_run_signals(conn: Any, run: Any, events: list[dict[str, Any]]) -> list[FailureSignal]:
    parent_id = run["parent_run_id"]
    if not parent_id:
        return []
    out: list[FailureSignal] = []
    handoff = next((d for d in TIER1_DETECTORS if isinstance(d, HandoffContextLossDetector)), None)
    handoff = handoff or HandoffContextLossDetector()
    parent_events = _load_events(conn, parent_id)
    started = next((e for e in events if e["event_type"] == "run.started"), None)
    if parent_events and started is not None:
        cutoff = started.get("timestamp") or float("inf")
        context = _context_text([e for e in parent_events if (e.get("timestamp") or 0) <= cutoff])
        child_input = (started.get("payload") or {}).get("input_text") or ""
        if not isinstance(child_input, str):
            child_input = str(child_input)
        sig = handoff.evaluate_handoff(context, child_input, run["run_id"], run["agent_id"], run["agent_version"])
        if sig:
            out.append(sig)
    # Lineage, root first: this run, its parent, grandparent ... as far as the store knows.
    chain = [run["agent_id"]]
    seen = {run["run_id"]}
    current = parent_id
    while current and current not in seen and len(chain) < _MAX_LINEAGE:
        seen.add(current)
        row = conn.execute("SELECT agent_id, parent_run_id FROM runs WHERE run_id=?", (current,)).fetchone()
        if row is None:
            break
        chain.append(row["agent_id"])
        current = row["parent_run_id"]
    chain.reverse()
    if len(chain) >= 2:
        sig = DelegationLoopDetector().evaluate_delegation_cycle(
            _find_agent_cycle(chain), chain, run["run_id"], run["agent_id"], run["agent_version"]
        )
        if sig:
            out.append(sig)
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
    return x.value if hasattr(x, "value") else str(x)


def detect_run(store: Store, run_id: str, *, now: float | None = None, stalled: bool = False) -> RunDetection | None:
    """Detect one run and record the result (one write transaction). Returns None if the run is unknown
    or neither complete nor stalled.

    ``stalled`` marks a run without a terminal event as stalled; a run with a terminal event always
    uses that event's type as its trigger.
    """
    with store.write() as conn:
        return _detect_in(conn, run_id, now=now, stalled=stalled)


def _detect_in(
    conn: Any, run_id: str, *, now: float | None, stalled: bool, recheck: str | None = None
) -> RunDetection | None:
    """Detection of one run inside the caller's write transaction (so it sees earlier runs' results).

    ``recheck`` ("ready" / "stalled") re-verifies, under the write lock, that the run still needs it:
    another process (a server and a `local ingest` on one file) may have just done it.
    """
    run = conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
    if run is None:
        return None
    if recheck == "ready" and not run["needs_detection"]:
        return None
    if recheck == "stalled" and (run["processed_at"] is not None or run["terminal_event_type"] is not None):
        return None
    events = _load_events(conn, run_id)
    trigger = run["terminal_event_type"] or ("stalled" if stalled or run["trigger"] == "stalled" else None)
    if trigger is None:
        return None  # neither complete nor stalled: nothing to do yet
    result = RunDetection(run_id=run_id, trigger=trigger, redetected=run["processed_at"] is not None)
    detector_signals: list[FailureSignal] = []
    metrics: dict[str, float | None] | None = None
    incomplete = False
    if events:
        try:
            state = build_run_state(events)
            # The first event decides identity in build_run_state; prefer run.started's (as stored).
            state.agent_id, state.agent_version = run["agent_id"], run["agent_version"]
            incomplete = state.dropped_events > 0
            for column, value in baselines(conn, run["agent_id"], run["agent_version"], exclude_run=run_id).items():
                setattr(state, BASELINE_FIELDS[column], value)
            detector_signals = list(run_detectors(state))
            inj = _injection(events, run)
            if inj:
                detector_signals.append(inj)
            detector_signals.extend(_cross_run_signals(conn, run, events))
            seen: set[str] = set()
            unique = []
            for s in detector_signals:
                ft = _enum_value(s.failure_type)
                if ft not in seen:
                    seen.add(ft)
                    unique.append(s)
            detector_signals = unique
            raw = {id(s): (_enum_value(s.severity), float(s.confidence)) for s in detector_signals}
            _post_process(detector_signals, state, incomplete)
            metrics = None if incomplete else run_metrics(state)
        except Exception as exc:  # a bad run must not stop detection of the others
            result.error = f"{type(exc).__name__}: {exc}"[:2000]
            detector_signals, raw, metrics = [], {}, None
    else:
        raw = {}
    stamp = time.time() if now is None else now
    for s in detector_signals:
        ft = _enum_value(s.failure_type)
        result.all_types.append(ft)
        shadow = 1 if (incomplete or ft not in LIVE_TYPES) else 0
        evidence = s.evidence if isinstance(s.evidence, dict) else {"value": s.evidence}
        try:
            evidence_text = dumps_compact(evidence)
        except (ValueError, TypeError, RecursionError):
            evidence_text = dumps_compact({"unserialisable_evidence": str(evidence)[:2000]})
        det_sev, det_conf = raw.get(id(s), (None, None))
        cur = conn.execute(
            "INSERT OR IGNORE INTO signals(run_id, agent_id, agent_version, failure_type, severity, step_index, "
            "confidence, evidence, detected_at, alerted, shadow, co_signal_count, detector_severity, "
            "detector_confidence) VALUES (?,?,?,?,?,?,?,?,?,0,?,?,?,?)",
            (
                run_id, run["agent_id"], run["agent_version"], ft, _enum_value(s.severity),
                int(s.step_index or 0), float(s.confidence), evidence_text, stamp, shadow,
                int(s.co_signal_count or 0), det_sev, det_conf,
            ),
        )  # fmt: skip
        if cur.rowcount == 1:
            result.new_signals.append(ft)
    live_count = conn.execute(
        "SELECT COUNT(*) FROM signals WHERE run_id=? AND shadow=0", (run_id,)
    ).fetchone()[0]
    seen_events = len(events)
    conn.execute(
        "UPDATE runs SET processed_at=?, trigger=?, processed_event_count=?, signal_count=?, "
        "needs_detection=CASE WHEN event_count > ? THEN 1 ELSE 0 END, processing_error=? WHERE run_id=?",
        (stamp, trigger, seen_events, live_count, seen_events, result.error, run_id),
    )
    if metrics is not None:
        conn.execute(
            "INSERT INTO run_metrics(run_id, agent_id, agent_version, processed_at, steps, tool_latency_ms, "
            "llm_latency_ms, token_growth, llm_tool_ratio, total_tokens, duration_s, clean) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id) DO UPDATE SET processed_at=excluded.processed_at, "
            "steps=excluded.steps, tool_latency_ms=excluded.tool_latency_ms, llm_latency_ms=excluded.llm_latency_ms, "
            "token_growth=excluded.token_growth, llm_tool_ratio=excluded.llm_tool_ratio, "
            "total_tokens=excluded.total_tokens, duration_s=excluded.duration_s, clean=excluded.clean",
            (
                run_id, run["agent_id"], run["agent_version"], stamp, metrics["steps"],
                metrics["tool_latency_ms"], metrics["llm_latency_ms"], metrics["token_growth"],
                metrics["llm_tool_ratio"], metrics["total_tokens"], metrics["duration_s"],
                1 if live_count == 0 else 0,
            ),
        )  # fmt: skip
    return result


# ── sweeps ────────────────────────────────────────────────────────────────────────────────────
@dataclass
class SweepSummary:
    runs_completed: int = 0  # detected with trigger run.completed / run.errored
    runs_stalled: int = 0
    runs_redetected: int = 0
    signals_found: int = 0  # new signal rows
    errors: list[str] = field(default_factory=list)

    def add(self, det: RunDetection) -> None:
        if det.redetected:
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
        "SELECT run_id FROM runs WHERE needs_detection=1 "
        "ORDER BY COALESCE(started_at, first_received_at), last_received_at LIMIT ?",
        (limit,),
    ).fetchall()
    return [r[0] for r in rows]


def stalled_run_ids(store: Store, *, cutoff: float | None, limit: int = 500) -> list[str]:
    """Unprocessed runs with ``run.started``, no terminal event and nothing received since ``cutoff``
    (``None`` = all of them, regardless of time)."""
    sql = (
        "SELECT run_id FROM runs WHERE processed_at IS NULL AND terminal_event_type IS NULL AND has_started=1 "
        + ("AND last_received_at <= ? " if cutoff is not None else "")
        + "ORDER BY COALESCE(started_at, first_received_at) LIMIT ?"
    )
    params: tuple[Any, ...] = (cutoff, limit) if cutoff is not None else (limit,)
    return [r[0] for r in store.conn().execute(sql, params).fetchall()]


def sweep(
    store: Store,
    *,
    stall_seconds: float | None = DEFAULT_STALL_SECONDS,
    finalize_stalled: bool = False,
    now: Callable[[], float] = time.time,
    max_runs: int | None = None,
) -> SweepSummary:
    """Detect every ready run, then every stalled one. ``finalize_stalled`` treats all unfinished runs as
    stalled now; ``stall_seconds=None`` disables the time-based stall rule."""
    summary = SweepSummary()
    done = 0
    while True:
        batch = ready_run_ids(store)
        if not batch:
            break
        progressed = False
        for chunk in _chunks(batch, TXN_RUNS):
            with store.write() as conn:
                for run_id in chunk:
                    det = _detect_in(conn, run_id, now=None, stalled=False, recheck="ready")
                    if det is not None:
                        summary.add(det)
                        progressed = True
            done += len(chunk)
            if max_runs is not None and done >= max_runs:
                return summary
        if not progressed:
            break
    if finalize_stalled or stall_seconds is not None:
        cutoff = None if finalize_stalled else now() - float(stall_seconds or 0)
        while True:
            ids = stalled_run_ids(store, cutoff=cutoff)
            if not ids:
                break
            for chunk in _chunks(ids, TXN_RUNS):
                with store.write() as conn:
                    for run_id in chunk:
                        det = _detect_in(conn, run_id, now=None, stalled=True, recheck="stalled")
                        if det is not None:
                            summary.add(det)
                done += len(chunk)
                if max_runs is not None and done >= max_runs:
                    return summary
    return summary


def detector_config(store: Store, agent_id: str, agent_version: str | None) -> dict[str, Any]:
    """The body of GET /v1/detector-config: no overrides, no packs, baselines when history allows."""
    base: dict[str, Any] | None = None
    version = agent_version
    try:
        conn = store.conn()
        if not version:
            row = conn.execute(
                "SELECT agent_version FROM run_metrics WHERE agent_id=? ORDER BY processed_at DESC LIMIT 1",
                (agent_id,),
            ).fetchone()
            version = row[0] if row else None
        if version is not None:
            values = baselines(conn, agent_id, version)
            mapped = {BASELINE_CONFIG_KEYS[k]: v for k, v in values.items()}
            base = mapped if any(v is not None for v in mapped.values()) else None
    except Exception:  # the SDK fails open; never make a config poll fail
        base = None
    return {
        "schema_version": 1,
        "agent_id": agent_id,
        "agent_version": agent_version,
        "generated_at": time.time(),
        "ttl_s": 60,
        "detectors": {},
        "packs": [],
        "baselines": base,
    }
