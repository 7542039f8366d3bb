"""The `dunetrace mcp` group: `serve` (and `install`, cli/mcp_install.py) as Typer commands.

What serving does lives in :mod:`.mcp_serve`, without Typer: `dunetrace mcp serve` usually starts
from there before this app is built (the fast path in ``dunetrace_cli.__main__``); this command is
the same start-up reached through Typer, for ``--help``, usage errors and in-process callers.
The server (:mod:`dunetrace_cli.mcp.server`) is imported only when serving, so `dunetrace --help`
never loads the MCP SDK.

Transports: stdio (default, for editors); ``--sse`` legacy SSE at /sse (+ /messages/);
``--http`` streamable HTTP at /mcp; both flags serve both from one process. Binding
anything but loopback requires a bearer token (``--token-env VAR`` or
DUNETRACE_MCP_TOKEN). Under stdio nothing but protocol reaches stdout.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from dunetrace_cli.cli.mcp_serve import (  # the serve start-up, re-exported for callers of this module
    DEFAULT_HOST,
    DEFAULT_PORT,
    READONLY_ENV,
    ServeOptions,
    legacy_main,
    load_server_module,
    mcp_sdk_sentence,
    resolve_token,
    serve_with,
    writes_allowed,
)
from dunetrace_cli.errors import DunetraceError, ExitCode

app = typer.Typer(
    name="mcp",
    help="Serve the Dunetrace queries as MCP tools to Claude Code, Cursor, Codex and other MCP clients.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.callback()
def mcp_group() -> None:
    """Serve the Dunetrace queries as MCP tools (see docs/mcp.md for client setup)."""


from dunetrace_cli.cli import mcp_install  # noqa: E402 - `mcp install`, owned by cli/mcp_install.py

mcp_install.register(app)


@app.command("serve")
def serve(
    ctx: typer.Context,
    sse: Annotated[bool, typer.Option("--sse", help="Serve legacy SSE at /sse (+ /messages/).")] = False,
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP at /mcp (with --sse: both).")] = False,
    host: Annotated[str, typer.Option("--host", help="Address to bind for --sse/--http.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port for --sse/--http (0 picks a free one).")] = DEFAULT_PORT,
    token_env: Annotated[
        Optional[str],
        typer.Option(
            "--token-env",
            metavar="VAR",
            help="Require 'Authorization: Bearer $VAR' on --sse/--http (default: DUNETRACE_MCP_TOKEN if set). "
            "Mandatory when --host is not loopback.",
        ),
    ] = None,
    allow_host: Annotated[
        Optional[list[str]],
        typer.Option(
            "--allow-host",
            metavar="NAME",
            help="Extra Host header value clients use to reach this server (DNS-rebinding protection stays on). "
            "Repeatable.",
        ),
    ] = None,
    stateless: Annotated[
        bool,
        typer.Option("--stateless", help="Stateless streamable HTTP (no sessions): any process behind a load "
                     "balancer answers any request. With --http."),
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", help="Serve with N uvicorn worker processes (needs --stateless).")
    ] = 1,
    allow_writes: Annotated[
        bool,
        typer.Option("--allow-writes", help="Also register the 9 write tools (policies, custom detectors, "
                     "resolve_issue, trigger_explain); same as DUNETRACE_MCP_READONLY=false. Off by default."),
    ] = False,
) -> None:
    """Serve MCP over stdio (default, for editors), or over HTTP with --sse / --http.

    Uses the same settings as every other command: --api-url/--profile, DUNETRACE_API_URL,
    DUNETRACE_API_KEY, config.toml.
    """
    from dunetrace_cli.cli._run import debug_enabled, fail, options, settings_for  # noqa: PLC0415

    global_opts = options(ctx)
    opts = ServeOptions(
        sse=sse,
        http=http,
        host=host,
        port=port,
        token_env=token_env,
        allow_hosts=list(allow_host or []),
        debug=debug_enabled(global_opts),
        stateless=stateless,
        workers=workers,
        allow_writes=allow_writes,
        settings_overrides={
            "api_url": global_opts.api_url, "timeout": global_opts.timeout, "profile": global_opts.profile,
        },
    )
    try:
        serve_with(settings_for(ctx), opts)
    except DunetraceError as exc:
        fail(exc.message, int(exc.exit_code))
    except OSError as exc:  # e.g. the port is taken
        fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}.", int(ExitCode.USAGE))
    except KeyboardInterrupt:
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


__all__ = [
    "DEFAULT_HOST", "DEFAULT_PORT", "READONLY_ENV", "ServeOptions", "app", "legacy_main", "load_server_module",
    "mcp_sdk_sentence", "resolve_token", "serve_with", "writes_allowed",
]
