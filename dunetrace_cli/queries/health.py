"""Health score: the server's /health-score, or the same formula computed client-side.

The formula is the server's (customer-api.md §D.1): four components summing to 0-100,
over processed runs of the last 30 days; null with fewer than 3 runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dunetrace_cli.client import ApiClient
from dunetrace_cli.domain.health import (
    BASELINE_RUNS,
    MIN_RUNS,
    WINDOW_S,
    failure_score,
    latency_score,
    loop_score,
    token_score,
)
from dunetrace_cli.domain.loops import LOOP_TYPE_SET
from dunetrace_cli.models.health import HealthComponent, HealthScore
from dunetrace_cli.models.runs import RunDetail, RunSummary
from dunetrace_cli.models.signals import Signal
from dunetrace_cli.queries._common import RUN_DETAIL_CAP, agent_route, check_agent_if_empty, seg
from dunetrace_cli.queries.agent_lists import AgentLists, shared_or_own

DETAIL_CAP = RUN_DETAIL_CAP  # run details fetched for token/latency averages when computing client-side


async def get_health(client: ApiClient, *, agent_id: str, lists: AgentLists | None = None) -> HealthScore:
    """The agent's health score; computed client-side (and marked so) on servers without the route.

    ``lists``: the agent's run and signal lists, when the caller shares them with another computation.
    """
    body = await agent_route(client, agent_id, "health_score", "health-score", empty=_no_runs)
    if body is not None:
        return HealthScore.model_validate({**body, "source": "server"})
    return await compute_health(client, agent_id=agent_id, lists=lists)


def _no_runs(body: Any) -> bool:
    return isinstance(body, dict) and not body.get("sample_runs")


async def compute_health(
    client: ApiClient, *, agent_id: str, detail_cap: int = DETAIL_CAP, lists: AgentLists | None = None
) -> HealthScore:
    now = client.now()
    async with shared_or_own(client, agent_id, lists) as read:
        run_rows, signal_rows = await read.both()
    await check_agent_if_empty(client, agent_id, not run_rows)
    runs = [RunSummary.model_validate(r) for r in run_rows]
    window = [r for r in runs if (_run_time(r) or now) >= now - WINDOW_S]
    total = len(window)
    notes = ["computed by dunetrace-cli with the server's formula: this server has no /health-score route"]
    if total < MIN_RUNS:
        return HealthScore(
            agent_id=agent_id, score=None, components={}, sample_runs=total, baseline_ready=False,
            source="client", notes=notes + [f"needs at least {MIN_RUNS} runs in 30 days; found {total}"],
        )
    ids = {r.run_id for r in window}
    signals = [Signal.model_validate(s) for s in signal_rows]
    failing = {s.run_id for s in signals if s.run_id in ids and not s.shadow}
    looping = {s.run_id for s in signals if s.run_id in ids and not s.shadow and s.failure_type in LOOP_TYPE_SET}
    failure_rate = len(failing) / total
    loop_rate = len(looping) / total

    newest = window[:detail_cap]
    details = await asyncio.gather(*(client.get(f"/v1/runs/{seg(r.run_id)}") for r in newest))
    prompt_values: list[float] = []
    latency_values: list[float] = []
    for body in details:
        detail = RunDetail.model_validate(body)
        for event in detail.events:
            if event.event_type in ("llm.called", "llm.responded"):
                value = _number(event.payload.get("prompt_tokens"))
                if value is not None:
                    prompt_values.append(value)
            if event.event_type == "llm.responded":
                value = _number(event.payload.get("latency_ms"))
                if value is not None:
                    latency_values.append(value)
    if len(newest) < total:
        notes.append(f"token and latency averages use the newest {len(newest)} of {total} runs")
    notes.append("no 30-90 day baseline: token and latency use the absolute scale")

    avg_prompt = sum(prompt_values) / len(prompt_values) if prompt_values else None
    avg_latency = sum(latency_values) / len(latency_values) if latency_values else None
    components = {
        "failure_rate": HealthComponent(
            score=failure_score(failure_rate), max=40, value=round(failure_rate * 100, 1), label="% runs with failures"
        ),
        "loop_avoidance": HealthComponent(
            score=loop_score(loop_rate), max=25, value=round(loop_rate * 100, 1), label="% runs with loops"
        ),
        "token_efficiency": HealthComponent(
            score=token_score(avg_prompt), max=20, value=None if avg_prompt is None else round(avg_prompt),
            baseline=None, label="avg prompt tokens",
        ),
        "latency": HealthComponent(
            score=latency_score(avg_latency), max=15, value=None if avg_latency is None else round(avg_latency),
            baseline=None, label="avg LLM latency ms",
        ),
    }
    return HealthScore(
        agent_id=agent_id,
        score=sum(c.score for c in components.values()),
        components=components,
        sample_runs=total,
        baseline_ready=total >= BASELINE_RUNS,
        source="client",
        notes=notes,
    )


def _run_time(run: RunSummary) -> float | None:
    return run.completed_at or run.started_at


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
