"""`dunetrace demo`: see the whole product in seconds, with nothing else installed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from dunetrace_cli.cli._run import guarded


def _console(stderr: bool = False):
    from dunetrace_cli.render.console import make_console

    return make_console(stderr=stderr)


def _quote(path: Path) -> str:
    text = str(path)
    return f"'{text}'" if any(c in text for c in " \t\"'$`\\") else text


def demo(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option("--db", help="Where to create the demo store (default: demo.db next to the local store).", show_default=False),
    ] = None,
) -> None:
    """Simulate a few agents through the real SDK into a fresh demo store, then diagnose the looping one."""

    def body() -> None:
        from dunetrace_cli.errors import InternalError
        from dunetrace_cli.local.demo import LOOPING_AGENT, run_demo
        from dunetrace_cli.local.paths import default_demo_db_path

        path = Path(db).expanduser() if db else default_demo_db_path()
        err = _console(stderr=True)
        out = _console()
        started = time.monotonic()
        err.print("Simulating agents through the Dunetrace SDK (no LLM, no network) ...", soft_wrap=True)
        result = run_demo(path)
        kinds = ", ".join(f"{k} x{v}" for k, v in result.by_type.items()) or "none"
        out.print(
            f"Demo store {result.db}: {len(result.agents)} agents, {result.runs} runs, {result.events} events, "
            f"{result.signals} signals ({kinds}) in {time.monotonic() - started:.1f}s.",
            soft_wrap=True,
        )
        out.print("", soft_wrap=True)
        api = f"local:{result.db}"
        try:
            from dunetrace_cli.cli.app import run as run_cli
        except ImportError as exc:  # pragma: no cover - the root CLI is always there in a release
            raise InternalError(
                "The demo store is ready but the `summary` command is not available in this build; "
                f"try `dunetrace --api-url {api} agents`."
            ) from exc
        code = run_cli(["--api-url", api, "summary", LOOPING_AGENT])
        if code != 0:
            err.print(f"(summary exited with code {code})", soft_wrap=True)
        env = f"DUNETRACE_API_URL=local:{_quote(result.db)}"
        out.print("", soft_wrap=True)
        out.print("Next, point the CLI at the demo store, then try any command above or these:", soft_wrap=True)
        for line in (
            f"  export {env}",
            "  dunetrace agents",
            "  dunetrace signals --severity high",
            f"  dunetrace runs {LOOPING_AGENT} --failing",
            "  dunetrace summary support-bot",
            "  dunetrace mcp serve            # the same answers as MCP tools for your editor",
            "  dunetrace local serve          # take events from your own agent (DUNETRACE_ENDPOINT=http://127.0.0.1:8001)",
        ):
            out.print(line, soft_wrap=True)

    guarded(ctx, body)
