"""The query layer: pure async functions ``(client, *, params) -> model``.

The CLI commands, ``--json`` and the MCP tools all call these, so a change shows up
in all three faces at once. Nothing here imports rich, typer or mcp.

The names below are imported on first use (PEP 562), so importing one query module
(``dunetrace_cli.queries.guides``, which needs neither httpx nor pydantic) does not
import all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dunetrace_cli.lazy import lazy_exports

_HOMES = {
    "normalize_failure_type": "_common", "normalize_severity": "_common", "parse_since": "_common",
    "since_hours": "_common", "list_agents": "agents", "get_health": "health", "get_patterns": "patterns",
    "resolve_run_id": "run_ids", "compare_runs": "runs", "get_run": "runs", "list_runs": "runs",
    "get_signal": "signals", "search_signals": "signals", "summarize_agent": "summary",
    "get_token_stats": "tokens",
}

__all__ = [
    "compare_runs", "get_health", "get_patterns", "get_run", "get_signal", "get_token_stats", "list_agents",
    "list_runs", "normalize_failure_type", "normalize_severity", "parse_since", "resolve_run_id",
    "search_signals", "since_hours", "summarize_agent",
]


__getattr__ = lazy_exports(__name__, _HOMES, globals())


if TYPE_CHECKING:
    from dunetrace_cli.queries._common import normalize_failure_type, normalize_severity, parse_since, since_hours
    from dunetrace_cli.queries.agents import list_agents
    from dunetrace_cli.queries.health import get_health
    from dunetrace_cli.queries.patterns import get_patterns
    from dunetrace_cli.queries.run_ids import resolve_run_id
    from dunetrace_cli.queries.runs import compare_runs, get_run, list_runs
    from dunetrace_cli.queries.signals import get_signal, search_signals
    from dunetrace_cli.queries.summary import summarize_agent
    from dunetrace_cli.queries.tokens import get_token_stats
