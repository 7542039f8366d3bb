"""get_agent_token_stats as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.agents import Tokens, tokens
from dunetrace_cli.models.tokens import TokenStats
from dunetrace_cli.render.markdown._common import code, join, next_lines, table


def markdown(view: Tokens, *, now: float) -> str:
    source = "" if view.source == "server" else " (computed by the CLI from run details)"
    return join([
        f"# Token use of {code(view.agent_id)}{source}",
        *(table(view.windows) or ["No token data."]),
        *(["Spend in failed runs by failure type:", *table(view.waste_by_failure_type)]
          if view.waste_by_failure_type.rows else []),
        *(["Notes: " + "; ".join(view.notes)] if view.notes else []),
        *next_lines(view.next_steps),
    ])


def render_token_stats(result: TokenStats, *, now: float) -> str:
    return markdown(tokens(result), now=now)
