"""The query layer: pure async functions ``(client, *, params) -> model``.

The CLI commands, ``--json`` and the MCP tools all call these, so a change shows up
in all three faces at once. Nothing here imports rich, typer or mcp.
"""

from dunetrace_cli.queries._common import (
    normalize_failure_type,
    normalize_severity,
    parse_since,
    since_hours,
)
from dunetrace_cli.queries.agents import list_agents
from dunetrace_cli.queries.health import get_health
from dunetrace_cli.queries.patterns import get_patterns
from dunetrace_cli.queries.run_ids import resolve_run_id
from dunetrace_cli.queries.runs import compare_runs, get_run, list_runs
from dunetrace_cli.queries.signals import get_signal, search_signals
from dunetrace_cli.queries.summary import summarize_agent
from dunetrace_cli.queries.tokens import get_token_stats

__all__ = [
    "compare_runs", "get_health", "get_patterns", "get_run", "get_signal", "get_token_stats", "list_agents",
    "list_runs", "normalize_failure_type", "normalize_severity", "parse_since", "resolve_run_id",
    "search_signals", "since_hours", "summarize_agent",
]
