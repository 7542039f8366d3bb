"""get_agent_runs as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.runs import RunPage, run_page
from dunetrace_cli.models.runs import RunList
from dunetrace_cli.render.markdown._common import code, join, next_lines, page_line, table


def markdown(view: RunPage, *, now: float) -> str:
    which = f" ({view.filter})" if view.filter else ""
    return join([
        f"# Runs of {code(view.agent_id)}{which}: {page_line(view.page, 'runs')}, newest first",
        *(table(view.runs) or ["No runs."]),
        *next_lines(view.next_steps),
    ])


def render_run_list(result: RunList, *, now: float) -> str:
    return markdown(run_page(result), now=now)
