"""`dunetrace agents`: one row per agent, newest activity first."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.models.agents import AgentList, AgentSummary
from dunetrace_cli.render import timefmt
from dunetrace_cli.render.tables._base import score_text, sparkline, t
from dunetrace_cli.render.tables._fit import Cell, Col, FitTable, cut_keep_suffix


def top_failure(agent: AgentSummary) -> tuple[str, int] | None:
    """The agent's most frequent failure type (ties: the name sorting last, as before)."""
    return max(agent.failure_types.items(), key=lambda kv: (kv[1], kv[0]), default=None)


def render(result: AgentList, now: float) -> RenderableType:
    if not result.agents:
        return Text("No agents yet. Instrument one with the SDK: dunetrace guide python")
    with_health = result.with_health
    columns = [
        Col("agent", "AGENT", min_width=16),
        Col("runs", "RUNS", "right"),
        Col("signals", "SIGNALS", "right"),
        Col("crit", "CRIT/HIGH", "right"),
        *([Col("health", "HEALTH", "right")] if with_health else []),
        Col("spark", "7 DAYS"),
        Col("top", "TOP FAILURE", min_width=12, cut=cut_keep_suffix),
        Col("seen", "LAST SEEN (UTC)", compact_header="LAST SEEN"),
    ]
    tbl = FitTable(columns, plan=[
        ("compact", "seen"), ("drop", "spark"), ("shrink", "top"), ("drop", "seen"), ("shrink", "agent"),
    ])
    for agent in result.agents:
        top = top_failure(agent)
        cells: list[Cell] = [
            t(agent.agent_id, "bold"),
            t(agent.run_count),
            t(agent.signal_count),
            t(f"{agent.critical_count}/{agent.high_count}", "red" if agent.critical_count + agent.high_count else "dim"),
        ]
        if with_health:
            cells.append(score_text(agent.health_score))
        cells += [
            t(sparkline(agent.sparkline) if agent.sparkline else "·······", "dim"),
            t(f"{top[0]} ×{top[1]}" if top else "—"),
            (t(timefmt.short(agent.last_seen, now)), t(timefmt.ago(agent.last_seen, now))),
        ]
        tbl.add_row(*cells)
    return Group(tbl, Text(f"{result.total} agent(s). Start with: dunetrace summary AGENT", style="dim"))
