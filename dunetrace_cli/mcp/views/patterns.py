"""get_agent_patterns: systemic vs occasional failure types, worst day, inputs that keep failing."""

from __future__ import annotations

import math

from pydantic import Field

from dunetrace_cli.mcp.views._base import Step, Table, View, notes, rounded, step, steps, text
from dunetrace_cli.models.common import iso
from dunetrace_cli.models.insights import Patterns
from dunetrace_cli.render.insights_extra import regression_lines

PATTERN_COLUMNS = ["failure_type", "runs", "pct", "trend"]
MAX_ROWS = 15


class PatternsView(View):
    """Failure types over the systemic window (systemic: in >= 10% of its runs), systemic first; pct: % of runs."""

    agent_id: str = Field(exclude=True)  # the caller's argument: in the text's heading, not repeated here
    window_days: int = Field(exclude=True)  # the systemic window (7 days, said in the tool description)
    runs: int | None = None  # runs in the window
    source: str  # server, or client (computed by the CLI)
    systemic: list[str]  # the systemic failure types (the first rows of ``patterns``)
    patterns: Table  # PATTERN_COLUMNS (runs: affected runs; pct: % of the window's runs); trend: domain/trend.py
    hot_inputs: Table | None = None  # input_hash, failure_type, runs, pct (inputs failing >= 50% of the time)
    versions: Table | None = None  # version, runs, signal_pct
    regressions: list[str] | None = None  # deploys that raised the signal rate (newest first)
    deploys: list[str] | None = None  # deploys without a regression, the last deploy, cost on failing runs
    notes: list[str] | None = None
    next_steps: list[Step]


def _deploys(result: Patterns) -> list[str] | None:
    """The deploy and cost facts of newer servers' insights, one short sentence each (the CLI table and
    ``--json`` also carry users affected and timing)."""
    lines = []
    quiet = [d for d in result.deploy_regressions if not d.is_regression]
    if quiet:
        lines.append("deploys without a regression: " + ", ".join(
            f"{text(d.version, 40)} {rounded(d.before_rate, 2)} -> {rounded(d.after_rate, 2)}" for d in quiet[:3]))
    if result.deploy_events:
        latest = result.deploy_events[0]
        lines.append(f"last deploy: {text(latest.version, 40)} at {iso(latest.deployed_at)} "
                     f"({len(result.deploy_events)} in 90 days)")
    cost = result.cost_stats
    if cost is not None:
        lines.append(f"cost (30 days): ${cost.total_cost_usd:.4f}, ${cost.wasted_cost_usd:.4f} "
                     f"({cost.wasted_pct:.1%}) on failing runs")
    return lines or None


def pct(rate: float | None) -> int | None:
    """A 0-1 rate as a whole percentage (two fewer characters per cell than ``0.33``; 1% is precision enough)."""
    return None if rate is None else math.floor(rate * 100 + 0.5)  # half up: 0.325 -> 33, as the server's 0.33


def patterns(result: Patterns) -> PatternsView:
    rows = [
        [text(p.failure_type, 64), p.affected_runs, pct(p.rate), p.trend_verdict] for p in result.patterns[:MAX_ROWS]
    ]
    hot = [[text(h.input_hash, 16), text(h.failure_type, 64), h.triggered_count, pct(h.rate)]
           for h in result.hot_inputs[:5]]
    versions = [[text(v.agent_version, 32), v.run_count, pct(v.signal_rate)] for v in result.versions[:5]]
    plan = []
    systemic = [p for p in result.patterns if p.is_systemic]
    if systemic:
        top = systemic[0]
        plan.append(step("signals", "top systemic",
                         agent_id=result.agent_id, failure_type=top.failure_type, limit=5))
    kept = notes(result.notes, source=result.source) or []
    if len(result.patterns) > MAX_ROWS:
        kept.append(f"{len(result.patterns) - MAX_ROWS} more failure types not listed")
    return PatternsView(
        agent_id=text(result.agent_id, 64), window_days=result.window_days, runs=result.total_runs,
        source=result.source, systemic=[text(p.failure_type, 64) for p in systemic[:MAX_ROWS]],
        patterns=Table(columns=PATTERN_COLUMNS, rows=rows),
        hot_inputs=Table(columns=["input_hash", "failure_type", "runs", "pct"], rows=hot) if hot else None,
        versions=Table(columns=["version", "runs", "signal_pct"], rows=versions) if versions else None,
        regressions=regression_lines(result)[:3] or None, deploys=_deploys(result), notes=kept or None, next_steps=steps(plan),
    )
