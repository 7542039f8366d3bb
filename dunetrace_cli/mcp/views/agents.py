"""list_agents, get_agent_health and get_agent_token_stats."""

from __future__ import annotations

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
from dunetrace_cli.models.agents import AgentList, AgentSummary
from dunetrace_cli.models.health import HealthScore
from dunetrace_cli.models.tokens import TokenStats

AGENT_COLUMNS = ["agent_id", "runs", "signals", "critical", "high", "last_seen", "top_failure_types"]
MAX_AGENTS = 120  # rows in one answer (~12,000 characters), most CRITICAL/HIGH first


class AgentPage(View):
    """Monitored agents, most CRITICAL/HIGH signals first."""

    page: Page
    agents: Table  # AGENT_COLUMNS
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


def _top_types(agent: AgentSummary, n: int = 2) -> str:
    ranked = sorted(agent.failure_types.items(), key=lambda kv: (-kv[1], kv[0]))
    return " ".join(f"{text(name, 40)}:{count}" for name, count in ranked[:n])


def worst_agents(agents: list[AgentSummary]) -> list[AgentSummary]:
    return sorted(agents, key=lambda a: (-a.critical_count, -a.high_count, -a.signal_count, a.agent_id))


def agent_page(result: AgentList, *, offset: int | None = None) -> AgentPage:
    """A page of at most :data:`MAX_AGENTS` agents, from ``offset`` (default: the call's ``offset`` argument)."""
    start = result.offset if offset is None else offset
    ordered = worst_agents(result.agents)
    shown = ordered[start: start + MAX_AGENTS]
    rows = [
        [text(a.agent_id, 64), a.run_count, a.signal_count, a.critical_count, a.high_count, when(a.last_seen),
         _top_types(a)]
        for a in shown
    ]
    plan = []
    if shown and shown[0].signal_count:
        plan.append(step("summary", "most CRITICAL/HIGH signals", agent_id=shown[0].agent_id))
    elif not result.total:
        plan.append(step("guide", "no agent has sent events yet: instrument one", framework="python"))
    page, paging = page_of("agents", offset=start, shown=len(shown), total=result.total, size=MAX_AGENTS)
    return AgentPage(page=page, agents=Table(columns=AGENT_COLUMNS, rows=rows), next_steps=steps(plan + paging))


# --------------------------------------------------------------------------- health


class Health(View):
    """Health score 0-100 over the last 30 days; components as [name, score, max, current value]."""

    agent_id: str
    score: int | None = None  # absent: fewer than 3 runs in 30 days
    grade: str
    sample_runs: int
    source: str  # server, or client (computed by the CLI)
    components: Table  # name, score, max, value
    notes: list[str] | None = None
    next_steps: list[Step]


_WEAKEST_STEP = {
    "loop_avoidance": ("signals", "weakest: loops", {"failure_type": "TOOL_LOOP"}),
    "token_efficiency": ("tokens", "weakest: token efficiency", {}),
}


def health(result: HealthScore) -> Health:
    rows = [[text(name, 40), c.score, c.max, rounded(c.value, 1)] for name, c in result.components.items()]
    plan = []
    weak = [(n, c) for n, c in result.components.items() if c.max and c.score < c.max]
    if weak:
        name, _ = min(weak, key=lambda kv: kv[1].score / kv[1].max)
        op, why, extra = _WEAKEST_STEP.get(name, ("patterns", f"weakest: {name}", {}))
        plan.append(step(op, why, agent_id=result.agent_id, **extra))
    return Health(
        agent_id=text(result.agent_id, 64), score=result.score, grade=result.grade, sample_runs=result.sample_runs,
        source=result.source, components=Table(columns=["name", "score", "max", "value"], rows=rows),
        notes=notes(result.notes, source=result.source), next_steps=steps(plan),
    )


# --------------------------------------------------------------------------- tokens


TOKEN_COLUMNS = ["window", "runs", "failed_runs", "tokens", "cost_usd", "failed_run_tokens", "excess_tokens",
                 "projected_monthly_excess_usd"]


class Tokens(View):
    """Token use and cost per window; spend in failed runs by failure type."""

    agent_id: str
    source: str
    windows: Table  # TOKEN_COLUMNS
    waste_by_failure_type: Table  # failure_type, tokens, cost_usd, runs
    notes: list[str] | None = None
    next_steps: list[Step]


def tokens(result: TokenStats) -> Tokens:
    windows = [
        [name, w.run_count, w.failed_run_count, w.total_tokens, rounded(w.total_cost_usd, 4), w.failed_run_tokens,
         w.excess_tokens, rounded(w.projected_monthly_excess_cost_usd, 2)]
        for name, w in result.windows.items()
    ]
    waste = [
        [text(w.failure_type, 64), w.wasted_tokens, rounded(w.wasted_cost_usd, 4), w.affected_runs]
        for w in result.waste_by_failure_type[:10]
    ]
    plan = []
    if result.waste_by_failure_type:
        top = result.waste_by_failure_type[0]
        plan.append(step("signals", f"{text(top.failure_type, 64)} costs the most", agent_id=result.agent_id,
                         failure_type=top.failure_type, limit=5))
    return Tokens(
        agent_id=text(result.agent_id, 64), source=result.source, windows=Table(columns=TOKEN_COLUMNS, rows=windows),
        waste_by_failure_type=Table(columns=["failure_type", "tokens", "cost_usd", "runs"], rows=waste),
        notes=notes(result.notes, source=result.source), next_steps=steps(plan),
    )
