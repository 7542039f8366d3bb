"""get_agent_patterns as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.patterns import PatternsView, patterns
from dunetrace_cli.models.insights import Patterns
from dunetrace_cli.render.markdown._common import code, join, next_lines, table


def markdown(view: PatternsView, *, now: float) -> str:
    systemic = len(view.systemic)
    named = f" ({', '.join(code(t) for t in view.systemic)})" if view.systemic else ""
    runs = "" if view.runs is None else f" of {view.runs} runs"
    source = "" if view.source == "server" else "; computed by the CLI"
    lines = [
        f"# Patterns of {code(view.agent_id)}: {systemic} systemic{named}, {len(view.patterns.rows) - systemic}"
        f" occasional (systemic: >= 10%{runs} in {view.window_days} days; pct: % of runs){source}",
        *[f"⚠ **Regression after a deploy:** {r}." for r in view.regressions or []],
        *(table(view.patterns) or ["No failure patterns in the window."]),
    ]
    if view.hot_inputs:
        lines += ["Inputs failing >= 50%:", *table(view.hot_inputs)]
    if view.versions:
        lines += ["By version:", *table(view.versions)]
    if view.deploys:
        lines.append("Deploys: " + "; ".join(view.deploys) + ".")
    if view.notes:
        lines.append("Notes: " + "; ".join(view.notes))
    return join(lines + next_lines(view.next_steps))


def render_patterns(result: Patterns, *, now: float) -> str:
    return markdown(patterns(result), now=now)
