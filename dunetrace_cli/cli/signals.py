"""Signal commands: signals (search), signal (one, with its fixes)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from dunetrace_cli.cli._options import AgentOpt, JsonOpt, SeverityOpt, SinceOpt, TypeOpt
from dunetrace_cli.cli._run import execute


def register(app: typer.Typer) -> None:
    @app.command("signals", rich_help_panel="Triage")
    def signals(
        ctx: typer.Context,
        agent: Annotated[Optional[str], typer.Argument(help="Agent id; omit to search every agent.")] = None,
        severity: SeverityOpt = None,
        failure_type: TypeOpt = None,
        since: SinceOpt = None,
        limit: int = typer.Option(20, "--limit", "-n", min=1, max=10000, help="How many signals to show."),
        json_: JsonOpt = False,
    ) -> None:
        """Failure signals, newest first; across every agent unless AGENT is given."""

        async def query(client):  # type: ignore[no-untyped-def]
            from dunetrace_cli import clock
            from dunetrace_cli.queries import normalize_failure_type, normalize_severity, parse_since, search_signals

            normalize_severity(severity)
            normalize_failure_type(failure_type)
            cutoff = parse_since(since, clock.now())
            return await search_signals(
                client, agent_id=agent, severity=severity, failure_type=failure_type, since=cutoff, limit=limit
            )

        execute(ctx, query, as_json=json_)

    @app.command("signal", rich_help_panel="Investigate")
    def signal(
        ctx: typer.Context,
        signal_id: Annotated[int, typer.Argument(help="Signal id, e.g. 518.", show_default=False)],
        agent: AgentOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """One signal: evidence, impact and every suggested fix with its code."""
        from dunetrace_cli.queries import get_signal

        execute(ctx, lambda c: get_signal(c, signal_id=signal_id, agent_id=agent), as_json=json_)
