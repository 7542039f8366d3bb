"""list_agents as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.agents import AgentPage, agent_page
from dunetrace_cli.models.agents import AgentList
from dunetrace_cli.render.markdown._common import UNTRUSTED_LABEL, join, next_lines, page_line, table


def markdown(view: AgentPage, *, now: float) -> str:
    if not view.page.total:
        return join(["# Agents: none yet (no instrumented agent has sent events)", *next_lines(view.next_steps)])
    return join([
        f"# Agents: {page_line(view.page, 'agents')}, most CRITICAL/HIGH first ({UNTRUSTED_LABEL})",
        *table(view.agents),
        *next_lines(view.next_steps),
    ])


def render_agent_list(result: AgentList, *, now: float) -> str:
    return markdown(agent_page(result), now=now)
