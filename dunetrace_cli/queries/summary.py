"""The one-shot diagnosis: health, counts, failure breakdown, newest signals with a fix."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from dunetrace_cli.client import ApiClient
from dunetrace_cli.domain.systemic import SYSTEMIC_WINDOW_DAYS
from dunetrace_cli.models.common import SEVERITY_RANK, NextStep
from dunetrace_cli.models.insights import Patterns
from dunetrace_cli.models.signals import Signal
from dunetrace_cli.models.summary import AgentDiagnosis, FailureBreakdown, SignalDigest
from dunetrace_cli.queries._common import check_agent_id, gather_all, page_all, require_agent, seg
from dunetrace_cli.queries.agent_lists import AgentLists
from dunetrace_cli.queries.health import get_health
from dunetrace_cli.queries.patterns import get_patterns

SIGNAL_CAP = 2000


async def _count(client: ApiClient, agent_id: str, has_signals: bool | None) -> int:
    params: dict[str, object] = {"limit": 1, "offset": 0}
    if has_signals is not None:
        params["has_signals"] = has_signals
    body = await client.get(f"/v1/agents/{seg(agent_id)}/runs", params)
    return int((body.get("page") or {}).get("total") or 0)


def run_counts(patterns: Patterns) -> tuple[int, int] | None:
    """(processed runs, runs with a live signal) from the insights already fetched, or None.

    Both are in insights on every server generation: ``time_to_tool.total_runs`` counts the agent's
    processed runs, all time, as the run list's ``page.total`` does; ``versions`` (at most 10, newest
    first) has each version's runs and runs with a non-shadow signal, so their sums are the two
    counts when the versions are all there, i.e. when their runs add up to that total (customer-api.md
    B.8, D.2; queries.py @2353f438 and @962099b).
    """
    if patterns.time_to_tool is None:
        return None
    total = patterns.time_to_tool.total_runs
    if sum(v.run_count for v in patterns.versions) != total:
        return None  # more than 10 versions (or a server that counts differently): ask the run list
    failing = sum(v.runs_with_signals for v in patterns.versions)
    return (total, failing) if 0 <= failing <= total else None


async def summarize_agent(client: ApiClient, *, agent_id: str, newest: int = 5) -> AgentDiagnosis:
    """Start here: is the agent healthy, what fails, how often, and what to do first.

    One wave of 4 requests on a latest server (the agent list's first page, health, signals,
    insights): the run counts come from the insights the systemic verdict needs anyway. On a March
    server, one read of the run list too (and the run details the health score's averages need).
    """
    check_agent_id(agent_id)
    known = asyncio.ensure_future(require_agent(client, agent_id))  # the result shows the agent's summary
    await asyncio.sleep(0)  # a cached agent list answers at once: an unknown agent then costs no request
    if known.done():
        known.result()  # raises NotFound
    signal_read = asyncio.ensure_future(page_all(
        client, f"/v1/agents/{seg(agent_id)}/signals", "signals", {"include_shadow": False}, max_rows=SIGNAL_CAP
    ))
    # a server without /health-score or systemic_patterns: health and patterns are computed from the
    # same run list and signals (those read above when complete), each read once for both
    lists = AgentLists(client, agent_id, signals=signal_read)
    try:
        agent, health, (signal_rows, signal_total), patterns = await gather_all(
            known,  # else in one wave with the data
            get_health(client, agent_id=agent_id, lists=lists),
            signal_read,
            get_patterns(client, agent_id=agent_id, trend_days=SYSTEMIC_WINDOW_DAYS, lists=lists),
        )
    finally:
        await lists.aclose()
    counts = run_counts(patterns)
    if counts is None:
        counts = await asyncio.gather(_count(client, agent_id, None), _count(client, agent_id, True))
    runs_total, failing = counts
    # one rule and one window for `summary` and `patterns`: what patterns calls systemic, this does too
    systemic = {row.failure_type for row in patterns.patterns if row.is_systemic}
    signals = [Signal.model_validate(r) for r in signal_rows]
    notes: list[str] = []
    if signal_total > len(signals):
        notes.append(f"breakdown covers the newest {len(signals)} of {signal_total} signals")

    runs_by_type: dict[str, set[str]] = defaultdict(set)
    count_by_type: dict[str, int] = defaultdict(int)
    worst: dict[str, str] = {}
    for sig in signals:
        runs_by_type[sig.failure_type].add(sig.run_id)
        count_by_type[sig.failure_type] += 1
        current = worst.get(sig.failure_type)
        if current is None or SEVERITY_RANK.get(sig.severity, 9) < SEVERITY_RANK.get(current, 9):
            worst[sig.failure_type] = sig.severity
    breakdown = sorted(
        (
            FailureBreakdown(
                failure_type=ftype,
                signals=count_by_type[ftype],
                runs_affected=len(run_ids),
                pct_of_runs=round(100 * len(run_ids) / runs_total, 1) if runs_total else 0.0,
                is_systemic=ftype in systemic,
                worst_severity=worst.get(ftype, ""),
            )
            for ftype, run_ids in runs_by_type.items()
        ),
        key=lambda b: (-b.runs_affected, SEVERITY_RANK.get(b.worst_severity, 9), b.failure_type),
    )
    ordered = sorted(signals, key=lambda s: (s.detected_at or 0.0, s.id), reverse=True)
    digests = [
        SignalDigest(signal=s, first_fix=s.suggested_fixes[0] if s.suggested_fixes else None) for s in ordered[:newest]
    ]
    return AgentDiagnosis(
        agent=agent,
        health=health,
        runs_total=runs_total,
        failing_runs=failing,
        clean_runs=max(0, runs_total - failing),
        breakdown=breakdown,
        newest_signals=digests,
        next_steps=next_steps(agent_id, ordered, breakdown),
        notes=notes,
        systemic_window_days=patterns.window_days,
        systemic_window_runs=patterns.total_runs,
        deploy_regressions=[d for d in patterns.deploy_regressions if d.is_regression],
        cost_stats=patterns.cost_stats,
    )


def worst_signal(signals: list[Signal]) -> Signal | None:
    """The signal to fix first: the most severe, then the newest, then the highest id."""
    if not signals:
        return None
    return min(signals, key=lambda s: (SEVERITY_RANK.get(s.severity, 9), -(s.detected_at or 0.0), -s.id))


def next_steps(agent_id: str, signals: list[Signal], breakdown: list[FailureBreakdown]) -> list[NextStep]:
    """What to look at next, as data (each face phrases it: a command for the CLI, a tool call for MCP)."""
    worst = worst_signal(signals)
    if worst is None:
        return [NextStep(op="runs", args={"agent_id": agent_id}, reason="no failures recorded: check the runs look complete")]
    steps = [
        NextStep(
            op="signal", args={"signal_id": worst.id},
            reason=f"the fix for the newest {worst.severity} {worst.failure_type}",
        )
    ]
    if worst.run_id:
        steps.append(NextStep(
            op="run", args={"run_id": worst.run_id[:12]},
            reason="what happened in that run, step by step",
        ))
    if any(b.is_systemic for b in breakdown):
        steps.append(NextStep(op="patterns", args={"agent_id": agent_id}, reason="systemic failures and their daily trend"))
    steps.append(NextStep(op="runs", args={"agent_id": agent_id, "failing": True}, reason="every failing run"))
    return steps
