"""Token stats: the server's /token-stats, or token totals per window from run details."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from dunetrace_cli.client import ApiClient
from dunetrace_cli.domain.tokens import WINDOWS
from dunetrace_cli.models.runs import RunDetail, RunSummary
from dunetrace_cli.models.tokens import TokenStats, TokenWindow, WasteByType
from dunetrace_cli.queries._common import (
    RUN_DETAIL_CAP,
    agent_route,
    check_agent_if_empty,
    page_all,
    seg,
)
from dunetrace_cli.queries.runs import analyse_run

DETAIL_CAP = RUN_DETAIL_CAP


async def get_token_stats(client: ApiClient, *, agent_id: str) -> TokenStats:
    """Token use and spend on failed runs per window (1d/7d/30d)."""
    body = await agent_route(client, agent_id, "token_stats", "token-stats", empty=_no_runs)
    if body is not None:
        return TokenStats.model_validate({**body, "source": "server"})
    return await compute_token_stats(client, agent_id=agent_id)


def _no_runs(body: object) -> bool:
    """No run in any window: an idle agent, or an unknown one (the route answers zeros for both)."""
    windows = body.get("windows") if isinstance(body, dict) else None
    if not isinstance(windows, dict):
        return True
    return not any(isinstance(w, dict) and w.get("run_count") for w in windows.values())


async def compute_token_stats(client: ApiClient, *, agent_id: str, detail_cap: int = DETAIL_CAP) -> TokenStats:
    now = client.now()
    rows, _ = await page_all(client, f"/v1/agents/{seg(agent_id)}/runs", "runs")
    await check_agent_if_empty(client, agent_id, not rows)
    runs = [RunSummary.model_validate(r) for r in rows]
    in_window = [r for r in runs if _run_time(r, now) >= now - WINDOWS["30d"]]
    recent = in_window[:detail_cap]
    details = await asyncio.gather(*(client.get(f"/v1/runs/{seg(r.run_id)}") for r in recent))
    per_run = []
    for summary, body in zip(recent, details):
        view = analyse_run(RunDetail.model_validate(body), requested_id=summary.run_id)
        if not view.llm_calls:
            continue  # like the server, count only runs with LLM events (an early error has none)
        per_run.append((summary, view.prompt_tokens, view.completion_tokens, sorted({s.failure_type for s in view.run.signals if not s.shadow})))
    cost_known = bool(per_run) and all(p[0].cost_usd is not None for p in per_run)

    windows: dict[str, TokenWindow] = {}
    for name, span in WINDOWS.items():
        chosen = [p for p in per_run if _run_time(p[0], now) >= now - span]
        failed = [p for p in chosen if p[0].has_signals]
        prompt = sum(p[1] for p in chosen)
        completion = sum(p[2] for p in chosen)
        total_cost = round(sum(p[0].cost_usd or 0.0 for p in chosen), 4) if cost_known else None
        failed_cost = round(sum(p[0].cost_usd or 0.0 for p in failed), 4) if cost_known else None
        windows[name] = TokenWindow(
            total_tokens=prompt + completion,
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_cost_usd=total_cost,
            run_count=len(chosen),
            failed_run_tokens=sum(p[1] + p[2] for p in failed),
            failed_run_cost_usd=failed_cost,
            failed_run_count=len(failed),
            failed_pct=round((failed_cost or 0.0) / total_cost, 3) if cost_known and total_cost else None,
        )
    waste: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    waste_cost: dict[str, float] = defaultdict(float)
    for summary, prompt, completion, types in per_run:
        for ftype in types:
            waste[ftype][0] += prompt + completion
            waste[ftype][1] += 1
            waste_cost[ftype] += summary.cost_usd or 0.0
    by_type = sorted(
        (
            WasteByType(
                failure_type=ftype, wasted_tokens=values[0], affected_runs=values[1],
                wasted_cost_usd=round(waste_cost[ftype], 4) if cost_known else None,
            )
            for ftype, values in waste.items()
        ),
        key=lambda w: (-w.wasted_tokens, w.failure_type),
    )
    notes = ["computed by dunetrace-cli from run details: this server has no /token-stats route"]
    if len(recent) < len(in_window):
        notes.append(f"covers the newest {len(recent)} runs of the last 30 days")
    if not cost_known:
        notes.append("cost unknown: this server reports no per-run cost, and dunetrace-cli does not guess prices")
    return TokenStats(
        agent_id=agent_id, windows=windows, waste_by_failure_type=by_type, source="client",
        cost_known=cost_known, notes=notes,
    )


def _run_time(run: RunSummary, now: float) -> float:
    """Windows are cut by run start, as on the server; a run with no start time counts as now."""
    return run.started_at or run.completed_at or now
