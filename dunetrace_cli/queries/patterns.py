"""Patterns: systemic vs one-off failure types, daily trend, worst day, risky inputs."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from dunetrace_cli.client import ApiClient
from dunetrace_cli.domain.systemic import SYSTEMIC_RATE, SYSTEMIC_WINDOW_DAYS
from dunetrace_cli.models.insights import (
    AgentInsights,
    DayPoint,
    DeployEvent,
    DeployRegression,
    PatternRow,
    Patterns,
    UserImpact,
)
from dunetrace_cli.models.runs import RunSummary
from dunetrace_cli.models.signals import Signal
from dunetrace_cli.queries._common import (
    check_agent_id,
    check_agent_if_empty,
    last_days,
    round_half_up,
    seg,
    utc_day,
)
from dunetrace_cli.queries.agent_lists import AgentLists, shared_or_own

HOT_INPUT_RATE = 0.5


async def get_patterns(
    client: ApiClient, *, agent_id: str, trend_days: int = 14, lists: AgentLists | None = None
) -> Patterns:
    """Is a failure systemic (>= 10% of runs over 7 days) or a one-off, and how does it trend?

    ``lists``: the agent's run and signal lists, when the caller shares them with another computation.
    """
    check_agent_id(agent_id)
    insights = AgentInsights.model_validate(await client.get(f"/v1/agents/{seg(agent_id)}/insights"))
    await check_agent_if_empty(client, agent_id, _no_data(insights))
    now = client.now()
    days = last_days(now, trend_days)
    if insights.systemic_patterns is not None and insights.failure_rates is not None:
        rows, server_total = _from_server(insights, days)
        total_runs: int | None = server_total if rows else None  # the server states it only on pattern rows
        source: Literal["server", "client"] = "server"
        notes: list[str] = []
    else:
        async with shared_or_own(client, agent_id, lists) as read:
            rows, total_runs = _from_lists(*await read.both(), now, days)
        source = "client"
        notes = [
            "this server's insights have no systemic_patterns: computed by dunetrace-cli from runs and signals "
            "(run time stands in for the server's processing time)"
        ]
    rows.sort(key=lambda r: (not r.is_systemic, -r.affected_runs, -r.rate, r.failure_type))
    return Patterns(
        agent_id=agent_id,
        source=source,
        window_days=SYSTEMIC_WINDOW_DAYS,
        trend_days=trend_days,
        days=days,
        total_runs=total_runs,
        patterns=rows,
        hot_inputs=[p for p in insights.input_patterns if p.rate >= HOT_INPUT_RATE],
        versions=insights.versions,
        notes=notes,
        deploy_regressions=sorted(
            (DeployRegression.model_validate(d) for d in insights.deploy_regressions),
            key=lambda d: (not d.is_regression, -(d.deployed_at or 0.0)),
        ),
        deploy_events=sorted(
            (DeployEvent.model_validate(d) for d in insights.deploy_events), key=lambda d: -(d.deployed_at or 0.0)
        ),
        cost_stats=insights.cost_stats,
        user_impact=sorted(
            (UserImpact.model_validate(u) for u in insights.user_impact), key=lambda u: (-u.affected_users, u.failure_type)
        ),
        time_to_tool=insights.time_to_tool,
        hourly_pattern=sorted(insights.hourly_pattern, key=lambda h: h.hour_of_day),
        failure_rates=insights.failure_rates or [],
    )


def _no_data(insights: AgentInsights) -> bool:
    """The insights of an agent without runs (what the API also answers for an unknown agent)."""
    runs = insights.time_to_tool.total_runs if insights.time_to_tool is not None else 0
    return not (runs or insights.versions or insights.signal_trends or insights.input_patterns
                or insights.failure_rates or insights.systemic_patterns)


def _zero_filled(points: dict[str, DayPoint], days: list[str], totals: dict[str, int]) -> list[DayPoint]:
    return [points.get(day) or DayPoint(day=day, affected_runs=0, total_runs=totals.get(day, 0), rate=0.0) for day in days]


def _worst(trend: list[DayPoint]) -> tuple[str | None, float | None]:
    hit = [p for p in trend if p.affected_runs > 0]
    if not hit:
        return None, None
    best = max(hit, key=lambda p: (p.rate, p.day))
    return best.day, best.rate


def _from_server(insights: AgentInsights, days: list[str]) -> tuple[list[PatternRow], int]:
    by_type: dict[str, dict[str, DayPoint]] = defaultdict(dict)
    totals: dict[str, int] = {}
    for fr in insights.failure_rates or []:
        by_type[fr.failure_type][fr.day] = DayPoint(
            day=fr.day, affected_runs=fr.affected_runs, total_runs=fr.total_runs, rate=fr.rate
        )
        totals[fr.day] = max(totals.get(fr.day, 0), fr.total_runs)
    rows: list[PatternRow] = []
    seen: set[str] = set()
    total_runs = 0
    for sp in insights.systemic_patterns or []:
        trend = _zero_filled(by_type.get(sp.failure_type, {}), days, totals)
        worst_day, worst_rate = _worst(trend)
        total_runs = max(total_runs, sp.total_runs)
        rows.append(
            PatternRow(
                failure_type=sp.failure_type, total_runs=sp.total_runs, affected_runs=sp.affected_runs,
                rate=sp.rate, is_systemic=sp.rate >= SYSTEMIC_RATE, first_seen=sp.first_seen,
                last_seen=sp.last_seen, worst_day=worst_day, worst_day_rate=worst_rate, trend=trend,
            )
        )
        seen.add(sp.failure_type)
    for ftype, points in by_type.items():
        if ftype in seen:
            continue
        trend = _zero_filled(points, days, totals)
        worst_day, worst_rate = _worst(trend)
        if worst_day is None:
            continue
        rows.append(
            PatternRow(
                failure_type=ftype, total_runs=total_runs, affected_runs=0, rate=0.0, is_systemic=False,
                worst_day=worst_day, worst_day_rate=worst_rate, trend=trend,
            )
        )
    return rows, total_runs


def _from_lists(
    run_rows: list[dict[str, Any]], signal_rows: list[dict[str, Any]], now: float, days: list[str]
) -> tuple[list[PatternRow], int]:
    runs = [RunSummary.model_validate(r) for r in run_rows]
    run_time = {r.run_id: (r.completed_at or r.started_at) for r in runs}
    cutoff = now - SYSTEMIC_WINDOW_DAYS * 86400
    window_ids = {rid for rid, ts in run_time.items() if ts is not None and ts >= cutoff}
    total_runs = len(window_ids)

    day_totals: dict[str, int] = defaultdict(int)
    for ts in run_time.values():
        if ts is not None:
            day_totals[utc_day(ts)] += 1
    affected: dict[str, set[str]] = defaultdict(set)
    affected_by_day: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    first_seen: dict[str, float] = {}
    last_seen: dict[str, float] = {}
    for row in signal_rows:
        sig = Signal.model_validate(row)
        if sig.shadow:
            continue
        ftype = sig.failure_type
        if sig.detected_at is not None:
            first_seen[ftype] = min(first_seen.get(ftype, sig.detected_at), sig.detected_at)
            last_seen[ftype] = max(last_seen.get(ftype, sig.detected_at), sig.detected_at)
        if sig.run_id in window_ids:
            affected[ftype].add(sig.run_id)
        ts = run_time.get(sig.run_id) or sig.detected_at
        if ts is not None:
            affected_by_day[ftype][utc_day(ts)].add(sig.run_id)

    rows: list[PatternRow] = []
    for ftype in sorted(set(affected) | set(affected_by_day)):
        points = {
            day: DayPoint(
                day=day, affected_runs=len(ids), total_runs=day_totals.get(day, 0),
                rate=round_half_up(len(ids) / day_totals[day]) if day_totals.get(day) else 0.0,
            )
            for day, ids in affected_by_day[ftype].items()
        }
        trend = _zero_filled(points, days, dict(day_totals))
        worst_day, worst_rate = _worst(trend)
        count = len(affected.get(ftype, ()))
        rate = round_half_up(count / total_runs) if total_runs else 0.0
        if count == 0 and worst_day is None:
            continue
        rows.append(
            PatternRow(
                failure_type=ftype, total_runs=total_runs, affected_runs=count, rate=rate,
                is_systemic=rate >= SYSTEMIC_RATE, first_seen=first_seen.get(ftype), last_seen=last_seen.get(ftype),
                worst_day=worst_day, worst_day_rate=worst_rate, trend=trend,
            )
        )
    return rows, total_runs
