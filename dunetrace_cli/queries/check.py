"""The deploy gate: gather each rule's figure for each agent, then judge it (domain/gate.py).

Figures come from the server where it has them (health-score, insights' systemic_patterns and
deploy_regressions, /fixes) and are computed client-side otherwise, with the same formulas the
rest of the CLI uses (queries/health.py, queries/patterns.py). A rule whose figure cannot be had
on this server (fix status on a March server) is an ``error`` verdict: the gate never passes it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from dunetrace_cli import params as P
from dunetrace_cli.client import ApiClient
from dunetrace_cli.domain import gate
from dunetrace_cli.errors import NotFound, UsageError
from dunetrace_cli.models.check import AgentCheck, CheckResult, CheckRules, RuleResult
from dunetrace_cli.models.common import NextStep
from dunetrace_cli.models.insights import AgentInsights
from dunetrace_cli.models.runs import RunSummary
from dunetrace_cli.queries._common import page_all, require_agent, seg

FIX_STATUS_CAP = 50  # signals whose fix status is probed when the server has no /fixes list
NO_RULES = (
    "no rules to check: set at least one of min_score, no_systemic, max_severity, max_failure_rate, "
    "no_regression, fixes_verified."
)


def build_rules(
    *,
    now: float,
    min_score: int | None = None,
    no_systemic: bool = False,
    systemic_types: list[str] | str | None = None,
    max_severity: str | None = None,
    since: float | None = None,
    window: str | None = None,
    max_failure_rate: float | str | None = None,
    no_regression: bool = False,
    fixes_verified: bool = False,
) -> CheckRules:
    """Validate and normalise the rules (UsageError with a sentence on a bad value)."""
    if min_score is not None and not 0 <= min_score <= 100:
        raise UsageError(f"invalid --min-score {min_score}: the health score runs from 0 to 100.")
    types = _split_types(systemic_types)
    severity = P.normalize_severity(max_severity)
    rate = None
    if max_failure_rate is not None and max_failure_rate != "":
        try:
            rate = gate.parse_rate(max_failure_rate)
        except ValueError as exc:
            raise UsageError(f"{exc}.") from None
    if since is None:
        window = window or gate.DEFAULT_WINDOW
        since = P.parse_since(window, now)
    elif window is None:
        window = window_label(now - since)
    return CheckRules(
        min_score=min_score, no_systemic=bool(no_systemic or types), systemic_types=types,
        max_severity=severity, max_failure_rate=rate, no_regression=bool(no_regression),
        fixes_verified=bool(fixes_verified), window=window or gate.DEFAULT_WINDOW, since=since,
    )


async def check_agents(client: ApiClient, *, agent_ids: list[str], rules: CheckRules) -> CheckResult:
    """Judge every rule for every agent; the gate passes only if every agent passes every rule."""
    if not agent_ids:
        raise UsageError("give at least one agent to check (list the agents to see their ids).")
    if not rules.active():
        raise UsageError(NO_RULES)
    unique = list(dict.fromkeys(agent_ids))
    checks = await asyncio.gather(*(_check_one(client, agent_id, rules) for agent_id in unique))
    judgements = [r for c in checks for r in c.rules]
    verdict, code = gate.outcome(_as_judgement(r) for r in judgements)
    return CheckResult(
        verdict=verdict, exit_code=code, agents=list(checks), rules=rules, checked_at=client.now(),
        next_steps=next_steps(checks),
    )


_SEVERITY_RANK = {name: rank for rank, name in enumerate(gate.SEVERITY_ORDER)}


def next_steps(checks: list[AgentCheck]) -> list[NextStep]:
    """For each rule that did not pass, the operation that shows why (one per operation and agent)."""
    steps: list[NextStep] = []
    seen: set[tuple[str, str]] = set()

    def add(op: str, args: dict[str, Any], reason: str) -> None:
        key = (op, json.dumps(args, sort_keys=True))
        if key not in seen:
            seen.add(key)
            steps.append(NextStep(op=op, args=args, reason=reason))

    for check in checks:
        agent = {"agent_id": check.agent_id}
        for rule in check.rules:
            if rule.verdict == "pass":
                continue
            if rule.rule == "min_score":
                add("summary", agent, "what pulls the health score down")
            elif rule.rule in ("no_systemic", "no_regression") and rule.verdict == "fail":
                add("patterns", agent, "the systemic failure types, their trend and the versions")
            elif rule.rule == "max_severity" and rule.offenders:
                worst = max(rule.offenders, key=lambda o: _SEVERITY_RANK.get(str(o.get("severity")), -1))
                add("signal", {"signal_id": worst["id"]}, "the fix for the worst signal in the window")
            elif rule.rule == "max_failure_rate" and rule.verdict == "fail":
                add("runs", {**agent, "failing": True}, "the failing runs")
            elif rule.rule == "fixes_verified" and rule.offenders:
                first = rule.offenders[0]
                if first.get("signal_id") is not None:
                    add("signal", {"signal_id": first["signal_id"]}, "the signal whose fix did not hold")
    return steps


async def check_agent(
    client: ApiClient,
    *,
    agent_id: str,
    min_score: int | None = None,
    no_systemic: bool = False,
    systemic_types: str | None = None,
    max_severity: str | None = None,
    since: float | None = None,
    max_failure_rate: float | None = None,
    no_regression: bool = False,
    fixes_verified: bool = False,
) -> CheckResult:
    """One agent (the MCP tool's shape): the same rules as ``dunetrace check``."""
    rules = build_rules(
        now=client.now(), min_score=min_score, no_systemic=no_systemic, systemic_types=systemic_types,
        max_severity=max_severity, since=since, max_failure_rate=max_failure_rate,
        no_regression=no_regression, fixes_verified=fixes_verified,
    )
    return await check_agents(client, agent_ids=[agent_id], rules=rules)


def window_label(seconds: float) -> str:
    """A window's length as the --since spelling: 86400 -> '1d', 5400 -> '90m'."""
    s = max(0, round(seconds))
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


async def _check_one(client: ApiClient, agent_id: str, rules: CheckRules) -> AgentCheck:
    await require_agent(client, agent_id)
    signals = _Memo(lambda: _window_signals(client, agent_id, rules.since))
    tasks: list[Awaitable[gate.Judgement]] = []
    if rules.min_score is not None:
        tasks.append(_min_score(client, agent_id, rules.min_score))
    if rules.no_systemic:
        tasks.append(_no_systemic(client, agent_id, rules.systemic_types))
    if rules.max_severity is not None:
        tasks.append(_max_severity(signals, rules.max_severity, rules.window))
    if rules.max_failure_rate is not None:
        tasks.append(_failure_rate(client, agent_id, rules.since, rules.max_failure_rate, rules.window))
    if rules.no_regression:
        tasks.append(_regression(client, agent_id))
    if rules.fixes_verified:
        tasks.append(_fixes(client, agent_id, signals, rules.since, rules.window))
    judgements = await asyncio.gather(*tasks)
    verdict, _ = gate.outcome(judgements)
    return AgentCheck(agent_id=agent_id, verdict=verdict, rules=[RuleResult(**j.__dict__) for j in judgements])


class _Memo:
    """One shared fetch for rules that need the same rows (the window's signals)."""

    def __init__(self, fetch: Callable[[], Awaitable[list[dict[str, Any]]]]) -> None:
        self._fetch = fetch
        self._task: asyncio.Task[list[dict[str, Any]]] | None = None

    async def get(self) -> list[dict[str, Any]]:
        if self._task is None:
            self._task = asyncio.ensure_future(self._fetch())
        return await self._task


async def _window_signals(client: ApiClient, agent_id: str, since: float | None) -> list[dict[str, Any]]:
    from dunetrace_cli.queries.signals import search_signals

    found = await search_signals(client, agent_id=agent_id, since=since, limit=10000)
    return [s.model_dump(include={"id", "severity", "failure_type", "run_id", "detected_at"}) for s in found.signals]


async def _min_score(client: ApiClient, agent_id: str, threshold: int) -> gate.Judgement:
    from dunetrace_cli.queries.health import get_health

    health = await get_health(client, agent_id=agent_id)
    return gate.judge_min_score(health.score, health.sample_runs, threshold, source=health.source)


async def _no_systemic(client: ApiClient, agent_id: str, types: list[str]) -> gate.Judgement:
    from dunetrace_cli.queries.patterns import get_patterns

    patterns = await get_patterns(client, agent_id=agent_id, trend_days=7)
    rows = [p.model_dump(include={"failure_type", "rate", "affected_runs", "total_runs", "is_systemic"})
            for p in patterns.patterns]
    return gate.judge_no_systemic(rows, types, source=patterns.source)


async def _max_severity(signals: _Memo, max_severity: str, window: str) -> gate.Judgement:
    return gate.judge_max_severity(await signals.get(), max_severity, window)


async def _failure_rate(
    client: ApiClient, agent_id: str, since: float | None, max_rate: float, window: str
) -> gate.Judgement:
    def older(batch: list[dict[str, Any]]) -> bool:
        times = [_run_time(RunSummary.model_validate(r)) for r in batch]
        return since is not None and any(t is not None and t < since for t in times)

    rows, _ = await page_all(client, f"/v1/agents/{seg(agent_id)}/runs", "runs", stop=older)
    runs = [RunSummary.model_validate(r) for r in rows]
    inside = [r for r in runs if since is None or ((_run_time(r) or 0) >= since)]
    failing = sum(1 for r in inside if r.signal_count > 0 or r.has_signals)
    return gate.judge_failure_rate(failing, len(inside), max_rate, window)


async def _regression(client: ApiClient, agent_id: str) -> gate.Judgement:
    insights = AgentInsights.model_validate(await client.get(f"/v1/agents/{seg(agent_id)}/insights"))
    versions = [v.model_dump() for v in insights.versions]
    return gate.judge_regression(insights.deploy_regressions, versions)


async def _fixes(
    client: ApiClient, agent_id: str, signals: _Memo, since: float | None, window: str
) -> gate.Judgement:
    body = await client.get_feature("fixes", f"/v1/agents/{seg(agent_id)}/fixes")
    if isinstance(body, dict):
        return gate.judge_fixes(body.get("fixes") or [], since, window)
    statuses = await _fix_statuses(client, await signals.get())
    if statuses is None:
        return gate.error_judgement(
            "fixes_verified", f"verified (applied in {window})",
            "this server has no fix status (neither /fixes nor /v1/signals/{id}/fix-status): "
            "drop the fixes_verified rule or upgrade the backend.",
            int(NotFound.exit_code),
        )
    judgement = gate.judge_fixes(statuses, since, window)
    note = f"this server has no /fixes list: checked the fix status of the window's {min(len(statuses), FIX_STATUS_CAP)} signals"
    return gate.Judgement(**{**judgement.__dict__, "detail": judgement.detail or note})


async def _fix_statuses(client: ApiClient, signals: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Applied fixes among the window's signals via /v1/signals/{id}/fix-status; None without the route."""
    if client.feature_known_missing("fix_status"):
        return None
    ids = [int(s["id"]) for s in signals[:FIX_STATUS_CAP]]
    if not ids:  # nothing to look up: still tell an old server (route missing) from an id miss
        try:
            probe = await client.get_feature("fix_status", "/v1/signals/0/fix-status")
        except NotFound:
            return []
        return None if probe is None else []

    async def one(signal_id: int) -> dict[str, Any] | None:
        try:
            body = await client.get_feature("fix_status", f"/v1/signals/{signal_id}/fix-status")
        except NotFound:  # the signal went away between the list and this request
            return {}
        if body is None:
            return None
        return {**body, "signal_id": signal_id} if isinstance(body, dict) else {}

    first = await one(ids[0])
    if first is None:
        return None
    rest = await asyncio.gather(*(one(i) for i in ids[1:]))
    rows = [first, *(r for r in rest if r is not None)]
    by_id = {int(s["id"]): s for s in signals}
    return [
        {**r, "failure_type": by_id.get(int(r["signal_id"]), {}).get("failure_type")}
        for r in rows if r and r.get("fix_applied")
    ]


def _split_types(value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    out = []
    for item in items:
        if item.strip():
            out.append(P.normalize_failure_type(item.strip()) or "")
    return list(dict.fromkeys(out))


def _run_time(run: RunSummary) -> float | None:
    return run.completed_at or run.started_at


def _as_judgement(rule: RuleResult) -> gate.Judgement:
    return gate.Judgement(**rule.model_dump())
