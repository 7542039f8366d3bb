"""The one place a command's result or failure reaches the terminal.

``execute`` loads settings, runs a query against an ApiClient, prints the result
(a rich rendering, or ``--json``) on stdout, and turns every failure into one
sentence on stderr and a documented exit code. No traceback reaches the user
unless ``--debug`` or DUNETRACE_DEBUG=1 asks for it.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from dunetrace_cli.errors import DunetraceError, ExitCode

if TYPE_CHECKING:
    from pydantic import BaseModel

    from dunetrace_cli.config import Settings
    from dunetrace_cli.registry import Operation

ERROR_CODES = {
    ExitCode.USAGE: "usage",
    ExitCode.AUTH_OR_CONFIG: "auth_or_config",
    ExitCode.NOT_FOUND: "not_found",
    ExitCode.UNAVAILABLE: "unavailable",
    ExitCode.INTERNAL: "internal",
    ExitCode.INTERRUPTED: "interrupted",
    ExitCode.CHECK_FAILED: "check_failed",
}


@dataclass
class GlobalOptions:
    api_url: str | None = None
    timeout: float | None = None
    profile: str | None = None
    debug: bool = False


def options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):
        root.obj = GlobalOptions()
    return root.obj


def work_begins() -> None:
    """Start-up is over: the cyclic garbage collector back on (``main()`` turns it off for start-up).

    Called once a registry command has its query's result (or starts ``--follow``), and before a
    hand-written command (servers, exports) runs; a no-op when it is on already (tests, in process).
    What start-up allocated (modules, classes, the registry: hundreds of thousands of objects, all
    long-lived) is frozen first, out of every later collection: otherwise the first collection after
    ``enable()`` scans all of it (~18 ms of `agents --json`, for no garbage).
    """
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _spinner(message: str) -> AbstractContextManager[None]:
    """render/console.py's spinner, imported (with rich) only when stderr is a terminal: elsewhere it draws
    nothing, so `agents --json 2>log` or a script imports no rich at all."""
    try:
        terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if not terminal:
        return nullcontext()
    from dunetrace_cli.render.console import spinner

    return spinner(message)


def debug_enabled(opts: GlobalOptions) -> bool:
    return opts.debug or os.environ.get("DUNETRACE_DEBUG", "") not in ("", "0", "false", "no")


def settings_for(ctx: typer.Context) -> Settings:
    from dunetrace_cli.config import load_settings

    opts = options(ctx)
    return load_settings(api_url=opts.api_url, timeout=opts.timeout, profile=opts.profile)


def report_error(message: str, code: int, *, as_json: bool = False, prefix: bool = True) -> None:
    """The error sentence on stderr; under --json, a one-line JSON envelope after it."""
    from dunetrace_cli.render.console import make_console

    err = make_console(stderr=True)
    if prefix:
        err.print(f"dunetrace: error: {message}", soft_wrap=True)
    if as_json:
        label = ERROR_CODES.get(ExitCode(code), "error") if code in ExitCode._value2member_map_ else "error"
        envelope = {"error": {"code": label, "exit_code": code, "message": message}}
        err.print(json.dumps(envelope), soft_wrap=True)


def fail(message: str, code: int, *, as_json: bool = False) -> None:
    report_error(message, code, as_json=as_json)
    raise typer.Exit(code)


def guarded(ctx: typer.Context, body: Callable[[], None], *, as_json: bool = False) -> None:
    """Run ``body`` and map every failure to a message and an exit code."""
    opts = options(ctx)
    try:
        body()
    except typer.Exit:
        raise
    except DunetraceError as exc:
        if debug_enabled(opts):
            traceback.print_exc()
        fail(exc.message, int(exc.exit_code), as_json=as_json)
    except KeyboardInterrupt:
        fail("interrupted.", int(ExitCode.INTERRUPTED), as_json=as_json)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback by default
        if debug_enabled(opts):
            traceback.print_exc()
        fail(
            f"internal error ({exc.__class__.__name__}). Re-run with --debug for details and report it.",
            int(ExitCode.INTERNAL),
            as_json=as_json,
        )


def _apply_globals(ctx: typer.Context, values: dict[str, Any]) -> GlobalOptions:
    """Global options given after the command override those given before it."""
    opts = options(ctx)
    if values.get("g_api_url") is not None:
        opts.api_url = values["g_api_url"]
    if values.get("g_timeout") is not None:
        opts.timeout = values["g_timeout"]
    if values.get("g_profile") is not None:
        opts.profile = values["g_profile"]
    if values.get("g_debug"):
        opts.debug = True
    return opts


def output_format(op: Operation, values: dict[str, Any]) -> tuple[str | None, list[str] | None]:
    """``--json`` / ``--format`` / ``--fields`` -> (format, fields), checked before any request."""
    from dunetrace_cli.errors import UsageError
    from dunetrace_cli.render.output import formats_for

    fmt = (values.get("format_") or "").strip().lower() or None
    if values.get("json_"):
        if fmt not in (None, "json"):
            raise UsageError(f"--json and --format {fmt} disagree: give one of them.")
        fmt = "json"
    allowed = formats_for(op)
    if fmt is not None and fmt not in allowed:  # None: render/output.py decides (terminal or pipe)
        raise UsageError(f"invalid --format '{fmt}'. Valid for this command: {', '.join(allowed)}.")
    raw_fields = values.get("fields_")
    fields = [f.strip() for f in raw_fields.split(",") if f.strip()] if raw_fields else None
    return fmt, fields


def run_operation(ctx: typer.Context, op: Operation, raw: dict[str, Any], values: dict[str, Any]) -> None:
    """Parse the arguments (before any request), run the operation's query, print the result."""
    _apply_globals(ctx, values)
    as_json = bool(values.get("json_")) or (values.get("format_") or "").lower() in ("json", "ndjson")

    def body() -> None:
        from dunetrace_cli import clock
        from dunetrace_cli.registry import bind_arguments, resolve
        from dunetrace_cli.render.output import emit

        fmt, fields = output_format(op, values)
        now = clock.now()
        kwargs = bind_arguments(op, raw, "cli", now)
        query = resolve(op.query)
        if kwargs.pop("follow", False):  # --follow: cli/follow.py polls the same query for new rows
            from dunetrace_cli.cli.follow import run_follow

            work_begins()
            run_follow(settings_for(ctx), query, kwargs, op=op.name, as_json=as_json, interval=kwargs.pop("interval"))
            return
        kwargs.pop("interval", None)
        if op.offline:
            result = query(**kwargs)
        else:
            from dunetrace_cli.cli.confirm import confirm, progress_to_stderr
            from dunetrace_cli.client import ApiClient

            settings = settings_for(ctx)
            confirm(op, raw, yes=bool(values.get("yes_")), target=settings.api_url)  # writes only

            async def call() -> BaseModel:
                async with ApiClient(settings, clock=clock.now) as client:
                    client.progress = progress_to_stderr
                    return await query(client, **kwargs)

            import asyncio  # only commands that call the API pay for it (`guide` does not)

            with _spinner(f"dunetrace {op.cli}: asking {settings.display_url}"):
                result = asyncio.run(call())
        work_begins()
        emit(result, op, fmt=fmt, fields=fields, now=now)

    guarded(ctx, body, as_json=as_json)
