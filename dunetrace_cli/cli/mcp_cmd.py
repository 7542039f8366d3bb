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

import inspect
from typing import Annotated, Any, Optional

import typer

from dunetrace_cli.cli import serve_options
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


def serve(ctx: typer.Context, **values: Any) -> None:
    """Serve MCP over stdio (default, for editors), or over HTTP with --sse / --http.

    Uses the same settings as every other command: --api-url/--profile, DUNETRACE_API_URL,
    DUNETRACE_API_KEY, config.toml.
    """
    from dunetrace_cli.cli._run import debug_enabled, fail, options, settings_for  # noqa: PLC0415

    global_opts = options(ctx)
    opts = ServeOptions(
        **serve_options.defaults(serve_options.SERVE, values),
        debug=debug_enabled(global_opts),
        settings_overrides={
            "api_url": global_opts.api_url, "timeout": global_opts.timeout, "profile": global_opts.profile,
        },
    )
    try:
        serve_with(settings_for(ctx), opts)
    except DunetraceError as exc:
        fail(exc.message, int(exc.exit_code))
    except OSError as exc:  # e.g. the port is taken
        fail(f"cannot serve on {opts.host}:{opts.port}: {exc.strerror or exc}.", int(ExitCode.USAGE))
    except KeyboardInterrupt:
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def typer_parameter(opt: serve_options.Opt) -> inspect.Parameter:
    """The Typer parameter for one option of the table (cli/serve_options.py)."""
    annotation: Any = list[str] if opt.kind == "list" else opt.python_type  # a list option: of strings
    if opt.default is None:
        annotation = Optional[annotation]  # noqa: UP045 - typer reads the annotation at run time
    option = typer.Option(*opt.decls, help=opt.help, metavar=opt.metavar, min=opt.min, max=opt.max)
    return inspect.Parameter(opt.name, inspect.Parameter.KEYWORD_ONLY, default=opt.default,
                             annotation=Annotated[annotation, option])


_parameters = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
               *(typer_parameter(opt) for opt in serve_options.SERVE)]
serve.__signature__ = inspect.Signature(_parameters, return_annotation=None)  # type: ignore[attr-defined]
serve.__annotations__ = {p.name: p.annotation for p in _parameters} | {"return": None}
app.command("serve")(serve)


__all__ = [
    "DEFAULT_HOST", "DEFAULT_PORT", "READONLY_ENV", "ServeOptions", "app", "legacy_main", "load_server_module",
    "mcp_sdk_sentence", "resolve_token", "serve_with", "writes_allowed",
]
