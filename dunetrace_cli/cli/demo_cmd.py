"""`dunetrace demo`: see the whole product in seconds, with nothing else installed.

The demo simulates a week of agents through the real SDK into a demo store (``local/demo.py``), then
diagnoses the looping agent by calling the summary query and its renderer directly (not the whole
CLI: no import of ``cli/app.py``). Every command it suggests carries ``--api-url local:PATH``, so each
one runs as printed and never reaches whatever server the configuration points at.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dunetrace_cli.cli._run import guarded


def _console(stderr: bool = False) -> Any:
    from dunetrace_cli.render.console import make_console

    return make_console(stderr=stderr)


def api_url_for(db: Path) -> str:
    return f"local:{db}"


def command(api: str, rest: str) -> str:
    """``dunetrace --api-url API REST`` with API quoted for a POSIX shell."""
    return f"dunetrace --api-url {shlex.quote(api)} {rest}"


def _step_text(step: Any) -> str:
    """A next step as ``dunetrace ...  # why``: a string (older results) or a registry NextStep."""
    if isinstance(step, str):
        return step
    from dunetrace_cli import registry

    line = registry.cli_line(step)
    reason = getattr(step, "reason", "")
    return f"{line}  # {reason}" if reason else line


def scoped(step_text: str, api: str) -> str:
    """Put ``--api-url API`` right after ``dunetrace`` in a suggested command."""
    if step_text.startswith("dunetrace "):
        return command(api, step_text[len("dunetrace ") :])
    return step_text


def next_lines(api: str, agent: str, summary_steps: list[Any]) -> list[str]:
    """Every command the demo suggests, each runnable as printed against the demo store."""
    lines = [scoped(_step_text(s), api) for s in summary_steps]
    extra = [
        command(api, "agents"),
        command(api, f"patterns {agent}") + "  # the loop's daily counts and trend",
        command(api, "signals --severity high"),
        command(api, "summary support-bot") + "  # retry storms and an errored run",
        command(api, "health report-writer"),
    ]
    seen = {line.split("  #")[0] for line in lines}
    lines += [line for line in extra if line.split("  #")[0] not in seen]
    return lines


def _diagnose(api: str, agent: str) -> tuple[Any, float]:
    import asyncio

    from dunetrace_cli import clock
    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.config import load_settings
    from dunetrace_cli.queries import summarize_agent

    settings = load_settings(api_url=api)

    async def call() -> Any:
        async with ApiClient(settings, clock=clock.now) as client:
            return await summarize_agent(client, agent_id=agent)

    return asyncio.run(call()), clock.now()


class _ReaderGone(Exception):
    """stdout's reader closed the pipe."""


def _reader_gone() -> None:
    raise _ReaderGone  # instead of rich's own handler, which exits 1


def _quiet_stdout() -> None:
    """The reader went away (``dunetrace demo | head -1``): drop the rest of stdout without a word."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def demo(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option("--db", help="Where to create the demo store (default: demo.db next to the local store).", show_default=False),
    ] = None,
) -> None:
    """Simulate a week of agents through the real SDK into a fresh demo store, then diagnose the looping one."""

    def body() -> None:
        from dunetrace_cli.local.demo import LOOPING_AGENT, run_demo
        from dunetrace_cli.local.paths import default_demo_db_path
        from dunetrace_cli.render.tables import render

        path = Path(db).expanduser() if db else default_demo_db_path()
        err = _console(stderr=True)
        started = time.monotonic()
        err.print("Simulating a week of agents through the Dunetrace SDK (no LLM, no network) ...", soft_wrap=True)
        result = run_demo(path)
        api = api_url_for(result.db)
        diagnosis, now = _diagnose(api, LOOPING_AGENT)
        steps = list(diagnosis.next_steps)
        diagnosis = diagnosis.model_copy(update={"next_steps": []})
        kinds = ", ".join(f"{k} x{v}" for k, v in result.by_type.items()) or "none"
        out = _console()
        out.on_broken_pipe = _reader_gone
        try:
            out.print(
                f"Demo store {result.db}: {len(result.agents)} agents, {result.runs} runs over 7 days, "
                f"{result.events} events, {result.signals} signals ({kinds}) in {time.monotonic() - started:.1f}s.",
                soft_wrap=True,
            )
            out.print("", soft_wrap=True)
            out.print(render(diagnosis, now))
            if result.health_trend:
                scores = " → ".join("-" if score is None else str(score) for _, score in result.health_trend)
                out.print(  # prose: wrapped at word boundaries
                    f"Health of {LOOPING_AGENT} at the end of each of the last 7 days: {scores}",
                    markup=False, highlight=False,
                )  # fmt: skip
            out.print("", soft_wrap=True)
            # one command per line, never wrapped by us, so each copies and runs as printed
            out.print("Next (each runs against the demo store as printed):", soft_wrap=True)
            for line in next_lines(api, LOOPING_AGENT, steps):
                out.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
            out.print("", soft_wrap=True)
            out.print("Or point every command at the demo store for this shell:", soft_wrap=True)
            out.print(f"  export DUNETRACE_API_URL={shlex.quote(api)}", soft_wrap=True, markup=False, highlight=False)
            out.print(
                f"The same answers as MCP tools for your editor: `{command(api, 'mcp serve')}`; your own agent's events: "
                "`dunetrace local serve` (DUNETRACE_ENDPOINT=http://127.0.0.1:8001).",
                markup=False,
                highlight=False,
            )
            sys.stdout.flush()
        except (BrokenPipeError, _ReaderGone):
            _quiet_stdout()

    guarded(ctx, body)
