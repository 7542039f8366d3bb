"""search_signals and get_agent_signals as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.signals import SignalPage, signal_page
from dunetrace_cli.models.signals import SignalSearch
from dunetrace_cli.render.markdown._common import UNTRUSTED_LABEL, code, join, next_lines, page_line, table


def markdown(view: SignalPage, *, now: float) -> str:
    filters = ", ".join(f"{k}={code(v)}" for k, v in view.filters.items()) or "all agents"
    head = f"# Signals ({filters}): {page_line(view.page, 'matches')}, newest first"
    if not view.signals.rows:
        return join([head, "No signals match.", *next_lines(view.next_steps)])
    return join([head, f"({UNTRUSTED_LABEL})", *table(view.signals), *next_lines(view.next_steps)])


def render_signal_search(result: SignalSearch, *, now: float, tool: str = "search_signals") -> str:
    return markdown(signal_page(result, tool=tool), now=now)
