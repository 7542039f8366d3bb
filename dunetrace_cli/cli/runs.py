"""Run commands: runs, run, compare."""

from __future__ import annotations

from typing import Annotated

import typer

from dunetrace_cli.cli._options import AgentArg, AgentOpt, JsonOpt
from dunetrace_cli.cli._run import execute

RunArg = Annotated[str, typer.Argument(help="Run id, or any unique prefix of it (e.g. 019e2314-6b7).", show_default=False)]


def register(app: typer.Typer) -> None:
    @app.command("runs", rich_help_panel="Investigate")
    def runs(
        ctx: typer.Context,
        agent: AgentArg,
        limit: int = typer.Option(20, "--limit", "-n", min=1, max=10000, help="How many runs to show."),
        failing: bool = typer.Option(False, "--failing", help="Only runs with at least one signal."),
        clean: bool = typer.Option(False, "--clean", help="Only runs without signals."),
        json_: JsonOpt = False,
    ) -> None:
        """An agent's newest runs (as processed by the detector)."""
        if failing and clean:
            raise typer.BadParameter("choose --failing or --clean, not both.", param_hint="--failing/--clean")
        status = "failing" if failing else "clean" if clean else "all"
        from dunetrace_cli.queries import list_runs

        execute(ctx, lambda c: list_runs(c, agent_id=agent, limit=limit, status=status), as_json=json_)

    @app.command("run", rich_help_panel="Investigate")
    def run(ctx: typer.Context, run_id: RunArg, agent: AgentOpt = None, json_: JsonOpt = False) -> None:
        """What happened in one run: tool calls with outcome and latency, LLM calls with tokens, signals."""
        from dunetrace_cli.queries import get_run

        execute(ctx, lambda c: get_run(c, run_id=run_id, agent_id=agent), as_json=json_)

    @app.command("compare", rich_help_panel="Investigate")
    def compare(
        ctx: typer.Context, run_1: RunArg, run_2: RunArg, agent: AgentOpt = None, json_: JsonOpt = False
    ) -> None:
        """Two runs side by side: duration, steps, tokens, tool calls, signals."""
        from dunetrace_cli.queries import compare_runs

        execute(ctx, lambda c: compare_runs(c, run_id_1=run_1, run_id_2=run_2, agent_id=agent), as_json=json_)
