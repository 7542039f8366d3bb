"""list_voice_calls, list_policies and list_custom_detectors: a page of each.

Call rows are the call-level figures (timeline, runs and recordings are in ``get_call_detail``);
policy conditions/actions and detector descriptions are cut to a short one-line form.
"""

from __future__ import annotations

import json
from typing import Any

from dunetrace_cli.mcp.views._base import (
    UNTRUSTED,
    Page,
    Step,
    Table,
    View,
    notes,
    page_of,
    rounded,
    step,
    steps,
    text,
    when,
)
from dunetrace_cli.models.calls import CallList
from dunetrace_cli.models.detectors import DetectorList
from dunetrace_cli.models.policies import PolicyList

CALL_COLUMNS = ["id", "agent_id", "last_run_at", "duration_s", "completion_status", "silence_pct", "voice_signals",
                "cost_usd"]
POLICY_COLUMNS = ["id", "name", "agent_id", "enabled", "priority", "condition", "action"]
DETECTOR_COLUMNS = ["id", "name", "agent_id", "status", "total_runs", "shadow_fire_count", "description"]
MAX_ROWS = 100  # rows in one answer; the rest by the next page
RULE_CHARS = 120  # a policy's condition / action, a detector's description: one short line


class CallPage(View):
    """Voice calls, newest first (a page of them)."""

    filters: dict[str, Any]  # agent_id, completion_status, cost_bucket as applied
    page: Page
    calls: Table  # CALL_COLUMNS; silence_pct is a 0-1 fraction
    notes: list[str] | None = None
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


class PolicyPage(View):
    """Runtime policies, by priority (a page of them)."""

    filters: dict[str, Any]
    page: Page
    policies: Table  # POLICY_COLUMNS; condition and action as compact JSON, cut
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


class DetectorPage(View):
    """Custom detectors (a page of them): shadow evaluates silently, active alerts, paused is off."""

    filters: dict[str, Any]
    page: Page
    detectors: Table  # DETECTOR_COLUMNS; description cut to one short line
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


def _size(limit: int | None) -> int:
    return min(limit or MAX_ROWS, MAX_ROWS)


def _agent_filter(agent_id: str | None) -> dict[str, Any]:
    return {"agent_id": text(agent_id, 64)} if agent_id else {}


def _rule(value: Any) -> str:
    return text(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str), RULE_CHARS)


def call_page(result: CallList) -> CallPage:
    shown = result.calls[:MAX_ROWS]
    rows = [
        [c.id, text(c.agent_id, 64), when(c.last_run_at), rounded(c.duration_seconds, 1), text(c.completion_status, 16),
         rounded(c.silence_pct, 3), c.voice_signal_count, rounded(c.cost_usd, 4)]
        for c in shown
    ]
    plan = []
    if shown:
        top = max(shown, key=lambda c: (c.voice_signal_count, c.last_run_at or 0.0))
        plan.append(step("call", "metrics, cost per stage, voice signals and recordings", conversation_id=top.id))
    page, paging = page_of(
        "calls", offset=result.offset, shown=len(rows), total=result.total, size=_size(result.limit),
        agent_id=result.agent_id, completion_status=result.completion_status, cost_bucket=result.cost_bucket,
    )
    filters = {**_agent_filter(result.agent_id),
               **{k: v for k, v in {"completion_status": result.completion_status,
                                    "cost_bucket": result.cost_bucket}.items() if v}}
    return CallPage(filters=filters, page=page, calls=Table(columns=CALL_COLUMNS, rows=rows),
                    notes=notes(result.notes, source=""), next_steps=steps(plan + paging))


def policy_page(result: PolicyList) -> PolicyPage:
    shown = result.policies[:MAX_ROWS]
    rows = [
        [p.id if isinstance(p.id, int) else text(p.id, 64), text(p.name, 80), text(p.agent_id, 64), p.enabled,
         p.priority, _rule(p.condition), _rule(p.action)]
        for p in shown
    ]
    page, paging = page_of("policies", offset=result.offset, shown=len(rows), total=result.total, size=_size(result.limit),
                           agent_id=result.agent_id)
    return PolicyPage(filters=_agent_filter(result.agent_id), page=page,
                      policies=Table(columns=POLICY_COLUMNS, rows=rows), next_steps=steps(paging))


def detector_page(result: DetectorList) -> DetectorPage:
    shown = result.detectors[:MAX_ROWS]
    rows = [
        [d.id if isinstance(d.id, int) else text(d.id, 64), text(d.name, 80), text(d.agent_id, 64),
         text(d.status, 16), d.total_runs, d.shadow_fire_count, text(d.description, RULE_CHARS)]
        for d in shown
    ]
    page, paging = page_of("detectors", offset=result.offset, shown=len(rows), total=result.total,
                           size=_size(result.limit), agent_id=result.agent_id)
    return DetectorPage(filters=_agent_filter(result.agent_id), page=page,
                        detectors=Table(columns=DETECTOR_COLUMNS, rows=rows), next_steps=steps(paging))
