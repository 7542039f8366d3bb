"""Detectors the local store runs beside the SDK's ``run_detectors``: the ones that need more than one run.

* PROMPT_INJECTION_SIGNAL from ``run.started``'s ``injection_signal`` evidence (the SDK put it there);
* for child runs, HANDOFF_CONTEXT_LOSS (the parent's context before the child started vs the child's
  input) and DELEGATION_LOOP (a cycle in the agent lineage the store knows).
"""

from __future__ import annotations

import json
from typing import Any

from dunetrace.detectors import TIER1_DETECTORS, DelegationLoopDetector, HandoffContextLossDetector
from dunetrace.models import FailureSignal, FailureType, Severity

_MAX_LINEAGE = 64


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


def injection_signal(events: list[dict[str, Any]], run: Any) -> FailureSignal | None:
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


def lineage(conn: Any, run: Any) -> list[str]:
    """The agents of this run, its parent, grandparent ... as far as the store knows, root first."""
    chain = [run["agent_id"]]
    seen = {run["run_id"]}
    current = run["parent_run_id"]
    while current and current not in seen and len(chain) < _MAX_LINEAGE:
        seen.add(current)
        row = conn.execute("SELECT agent_id, parent_run_id FROM runs WHERE run_id=?", (current,)).fetchone()
        if row is None:
            break
        chain.append(row[0])
        current = row[1]
    chain.reverse()
    return chain


def parent_context(conn: Any, parent_id: str, cutoff: float, max_seq: int | None = None) -> str | None:
    """The parent's context before ``cutoff`` (its input and the LLM/tool outputs by then, in replay
    order), or None when the store holds no event of the parent; ``max_seq``: only the events stored by
    then (what another process saw). Only the events that can contribute are read and decoded."""
    upto = "" if max_seq is None else f" AND seq <= {int(max_seq)}"
    before = "" if cutoff == float("inf") else " AND COALESCE(timestamp, 0) <= ?"
    rows = conn.execute(
        f"SELECT event_type, payload FROM events WHERE run_id=?{upto} "  # noqa: S608
        f"AND event_type IN ('run.started', 'llm.responded', 'tool.responded'){before} "
        "ORDER BY step_index, COALESCE(timestamp, 0), seq",
        (parent_id,) if not before else (parent_id, cutoff),
    ).fetchall()
    if not rows and conn.execute(f"SELECT 1 FROM events WHERE run_id=?{upto} LIMIT 1", (parent_id,)).fetchone() is None:  # noqa: S608
        return None
    return _context_text([{"event_type": r[0], "payload": _decoded(r[1])} for r in rows])


def _decoded(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def cross_run_signals(
    conn: Any, run: Any, events: list[dict[str, Any]], max_seq: int | None = None, chain: list[str] | None = None
) -> list[FailureSignal]:
    """HANDOFF_CONTEXT_LOSS and DELEGATION_LOOP of a child run, from the parent's events in the store
    (``max_seq``: those stored by then) and its lineage (``chain``: taken already, by another process
    as of an earlier moment)."""
    parent_id = run["parent_run_id"]
    if not parent_id:
        return []
    out: list[FailureSignal] = []
    handoff = next((d for d in TIER1_DETECTORS if isinstance(d, HandoffContextLossDetector)), None)
    handoff = handoff or HandoffContextLossDetector()
    started = next((e for e in events if e["event_type"] == "run.started"), None)
    if started is not None:
        cutoff = started.get("timestamp") or float("inf")
        context = parent_context(conn, parent_id, cutoff, max_seq)
        if context is not None:
            child_input = (started.get("payload") or {}).get("input_text") or ""
            if not isinstance(child_input, str):
                child_input = str(child_input)
            sig = handoff.evaluate_handoff(context, child_input, run["run_id"], run["agent_id"], run["agent_version"])
            if sig:
                out.append(sig)
    if chain is None:
        chain = lineage(conn, run)
    if len(chain) >= 2:
        sig = DelegationLoopDetector().evaluate_delegation_cycle(
            _find_agent_cycle(chain), chain, run["run_id"], run["agent_id"], run["agent_version"]
        )
        if sig:
            out.append(sig)
    return out
