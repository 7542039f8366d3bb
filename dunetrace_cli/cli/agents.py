"""Agent-level commands: agents, summary, health, patterns, tokens."""

from __future__ import annotations

import typer

from dunetrace_cli.cli._options import AgentArg, JsonOpt
from dunetrace_cli.cli._run import execute


def register(app: typer.Typer) -> None:
    @app.command("agents", rich_help_panel="Triage")
    def agents(ctx: typer.Context, json_: JsonOpt = False) -> None:
        """List every agent with run and signal counts, newest activity first."""
        from dunetrace_cli.queries import list_agents

        execute(ctx, list_agents, as_json=json_)

    @app.command("summary", rich_help_panel="Triage")
    def summary(ctx: typer.Context, agent: AgentArg, json_: JsonOpt = False) -> None:
        """Start here: health, failure breakdown, newest signals with their first fix."""
        from dunetrace_cli.queries import summarize_agent

        execute(ctx, lambda c: summarize_agent(c, agent_id=agent), as_json=json_)

    @app.command("health", rich_help_panel="Triage")
    def health(ctx: typer.Context, agent: AgentArg, json_: JsonOpt = False) -> None:
        """Health score 0-100 and its four components (failures, loops, tokens, latency)."""
        from dunetrace_cli.queries import get_health

        execute(ctx, lambda c: get_health(c, agent_id=agent), as_json=json_)

    @app.command("patterns", rich_help_panel="Triage")
    def patterns(
        ctx: typer.Context,
        agent: AgentArg,
        days: int = typer.Option(14, "--days", min=7, max=30, help="Days of daily trend (7-30)."),
        json_: JsonOpt = False,
    ) -> None:
        """Is a failure systemic (>=10% of runs in 7 days) or a one-off? Daily trend and worst day."""
        from dunetrace_cli.queries import get_patterns

        execute(ctx, lambda c: get_patterns(c, agent_id=agent, trend_days=days), as_json=json_)

    @app.command("tokens", rich_help_panel="Triage")
    def tokens(ctx: typer.Context, agent: AgentArg, json_: JsonOpt = False) -> None:
        """Token use and spend on failing runs over 1, 7 and 30 days."""
        from dunetrace_cli.queries import get_token_stats

        execute(ctx, lambda c: get_token_stats(c, agent_id=agent), as_json=json_)
