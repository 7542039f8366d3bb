"""compare_runs as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.runs import Comparison, comparison
from dunetrace_cli.models.runs import RunComparison
from dunetrace_cli.render.markdown._common import code, join, next_lines, table


def markdown(view: Comparison, *, now: float) -> str:
    lines = [f"# Runs {code(view.run_id_1)} vs {code(view.run_id_2)} of {code(view.agent_id)}", *table(view.rows)]
    if view.differences:
        lines += ["Differences:", *[f"- {d}" for d in view.differences]]
    else:
        lines.append("No structural differences.")
    return join(lines + next_lines(view.next_steps))


def render_comparison(result: RunComparison, *, now: float) -> str:
    return markdown(comparison(result), now=now)
