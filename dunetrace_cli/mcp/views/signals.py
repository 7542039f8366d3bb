"""search_signals / get_agent_signals (a page of signals) and get_signal_detail (one signal in full)."""

from __future__ import annotations

import json
from typing import Any

from dunetrace_cli.mcp.views._base import (
    UNTRUSTED,
    Page,
    Step,
    Table,
    View,
    block,
    page_of,
    rounded,
    short_run,
    step,
    steps,
    text,
    when,
)
from dunetrace_cli.models.common import SEVERITY_RANK
from dunetrace_cli.models.signals import Signal, SignalSearch, SignalView

SIGNAL_COLUMNS = ["id", "severity", "failure_type", "agent_id", "run_id", "detected_at", "title"]
TITLE_CHARS = 80
MAX_ROWS = 100  # rows in one answer (~15,000 characters at most); the rest by the next page


class SignalPage(View):
    """Signals matching the filters, newest first (a page of them)."""

    filters: dict[str, Any]  # the filters applied (agent_id, severity, failure_type, since)
    page: Page
    signals: Table  # SIGNAL_COLUMNS; agent_id is left out when the search is for one agent
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


def worst_signal(signals: list[Signal]) -> Signal | None:
    """The one signal to look at first: the most severe, then the newest (the CLI's rule too)."""
    if not signals:
        return None
    return min(signals, key=lambda s: (SEVERITY_RANK.get(s.severity, 9), -(s.detected_at or 0.0), -s.id))


def signal_table(signals: list[Signal], *, agent: bool) -> Table:
    columns = [c for c in SIGNAL_COLUMNS if agent or c != "agent_id"]
    rows = []
    for s in signals:
        row: dict[str, Any] = {
            "id": s.id, "severity": text(s.severity, 16), "failure_type": text(s.failure_type, 64),
            "agent_id": text(s.agent_id, 64), "run_id": short_run(s.run_id), "detected_at": when(s.detected_at),
            "title": text(s.title, TITLE_CHARS),
        }
        rows.append([row[c] for c in columns])
    return Table(columns=columns, rows=rows)


def _filters(result: SignalSearch) -> dict[str, Any]:
    return {
        k: v for k, v in {
            "agent_id": result.agent_id and text(result.agent_id, 64), "severity": result.severity,
            "failure_type": result.failure_type and text(result.failure_type, 64), "since": when(result.since),
        }.items() if v
    }


def _since_hours(since: float | None) -> int | None:
    """The ``since_hours`` that gave this cutoff (for the next page's call; the same clock as the query)."""
    if since is None:
        return None
    from dunetrace_cli import clock

    return max(1, round((clock.now() - since) / 3600))


def signal_page(result: SignalSearch, *, tool: str = "search_signals") -> SignalPage:
    rows = result.signals[:MAX_ROWS]
    op = "agent_signals" if tool == "get_agent_signals" else "signals"
    plan = []
    worst = worst_signal(rows)
    if worst is not None:
        plan.append(step("signal", f"evidence and fix for the worst: {worst.severity} {text(worst.failure_type, 64)}",
                         signal_id=worst.id, agent_id=worst.agent_id or None))
    page, paging = page_of(
        op, offset=result.offset, shown=len(rows), total=result.total_matched, size=min(result.limit, MAX_ROWS),
        complete=result.complete, agent_id=result.agent_id, severity=result.severity,
        failure_type=result.failure_type, since_hours=_since_hours(result.since) if op == "signals" else None,
    )
    return SignalPage(
        filters=_filters(result),
        page=page,
        signals=signal_table(rows, agent=not result.agent_id),
        next_steps=steps(plan + paging),
    )


# --------------------------------------------------------------------------- one signal


class Fix(View):
    description: str
    language: str | None = None
    code: str | None = None


class SignalDetail(View):
    """One signal in full: what happened, why it matters, evidence, the suggested fixes."""

    id: int
    severity: str
    failure_type: str
    agent_id: str
    agent_version: str | None = None
    run_id: str  # full id
    step_index: int
    confidence: float | None = None
    detected_at: str | None = None
    title: str
    what: str | None = None
    why_it_matters: str | None = None
    detector: str | None = None  # what our detector reference says this type catches
    fixes: list[Fix]
    evidence: str | None = None  # compact JSON of the evidence dict (cut), or the summary
    fix_status: str | None = None  # the server's verdict on an applied fix, with runs and recurrences after it
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


def _fix_status(result: SignalView) -> str | None:
    status = result.fix_status
    if status is None:
        return None
    if not status.fix_applied:
        return "no fix applied yet"
    via = f" via {text(status.applied_via, 40)}" if status.applied_via else ""
    return (f"{text(status.verdict or 'insufficient_data', 32)} (applied{via}): {status.runs_after_fix or 0} runs "
            f"since, {status.recurrences_after_fix or 0} recurrences")


EVIDENCE_CHARS = 600
FIX_CODE_CHARS = 500
MAX_FIXES = 3


def _evidence(s: Signal) -> str | None:
    if s.evidence:
        raw = json.dumps(s.evidence, ensure_ascii=False, separators=(",", ":"), default=str)
        return block(raw, EVIDENCE_CHARS)
    return block(s.evidence_summary, EVIDENCE_CHARS) if s.evidence_summary else None


def signal_detail(result: SignalView) -> SignalDetail:
    s = result.signal
    catches = None
    if result.detector:
        det = result.detector
        catches = det.get("catches") or det.get("what") or det.get("summary") or det.get("description")
    fixes = [
        Fix(description=text(f.description, 300), language=(f.language if f.language not in ("", "text") else None),
            code=block(f.code, FIX_CODE_CHARS) if f.code else None)
        for f in s.suggested_fixes[:MAX_FIXES]
    ]
    plan = []
    if s.run_id:
        plan.append(step("run", "the run step by step", run_id=s.run_id[:12]))
    if s.agent_id:
        plan.append(step("signals", "how often this recurs", agent_id=s.agent_id, failure_type=s.failure_type))
    return SignalDetail(
        id=s.id, severity=text(s.severity, 16), failure_type=text(s.failure_type, 64), agent_id=text(s.agent_id, 64),
        agent_version=text(s.agent_version, 64) or None, run_id=text(s.run_id, 64), step_index=s.step_index,
        confidence=rounded(s.confidence, 2), detected_at=when(s.detected_at), title=text(s.title, 200),
        what=text(s.what, 500) or None, why_it_matters=text(s.why_it_matters, 300) or None,
        detector=text(catches, 200) if catches and not fixes else None,
        fixes=fixes, evidence=_evidence(s), fix_status=_fix_status(result),
        next_steps=steps(plan),
    )


def agent_signal_page(result: SignalSearch) -> SignalPage:
    """get_agent_signals' view (its next page is a get_agent_signals call)."""
    return signal_page(result, tool="get_agent_signals")
