"""get_agent_health as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.agents import Health, health
from dunetrace_cli.models.health import HealthScore
from dunetrace_cli.render.markdown._common import code, join, next_lines, table


def markdown(view: Health, *, now: float) -> str:
    score = "no score yet (needs 3 runs in 30 days)" if view.score is None else f"{view.score}/100 ({view.grade})"
    source = "" if view.source == "server" else ", computed by the CLI"
    return join([
        f"# Health of {code(view.agent_id)}: {score}, {view.sample_runs} runs in 30 days{source}",
        *table(view.components),
        *(["Notes: " + "; ".join(view.notes)] if view.notes else []),
        *next_lines(view.next_steps),
    ])


def render_health(result: HealthScore, *, now: float) -> str:
    return markdown(health(result), now=now)
