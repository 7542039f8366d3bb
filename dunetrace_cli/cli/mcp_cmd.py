"""`dunetrace mcp serve` and the upstream-compatible `dunetrace-mcp` script.

Both serve the same MCP server (:mod:`dunetrace_cli.mcp.server`), which is imported
only inside the command so `dunetrace --help` never loads the MCP SDK.

Transports: stdio (default, for editors); ``--sse`` legacy SSE at /sse (+ /messages/);
``--http`` streamable HTTP at /mcp; both flags serve both from one process. Binding
anything but loopback requires a bearer token (``--token-env VAR`` or
DUNETRACE_MCP_TOKEN). Under stdio nothing but protocol reaches stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, Optional

import typer

from dunetrace_cli import __version__
from dunetrace_cli.config import EnvVars, Settings, load_settings
from dunetrace_cli.errors import ConfigError, DunetraceError, ExitCode, UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

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


@dataclass
class ServeOptions:
    sse: bool = False
    http: bool = False
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token_env: str | None = None
    allow_hosts: list[str] = field(default_factory=list)
    debug: bool = False
    stateless: bool = False
    workers: int = 1
    settings_overrides: dict[str, Any] = field(default_factory=dict)  # --api-url/--timeout/--profile, for workers
    allow_writes: bool = False  # --allow-writes; DUNETRACE_MCP_READONLY=false does the same (writes_allowed)

    @property
    def stdio(self) -> bool:
        return not (self.sse or self.http)


def resolve_token(opts: ServeOptions, env: dict[str, str] | os._Environ[str] | None = None) -> str | None:
    """The bearer token the HTTP transports require, or None; refuses unsafe setups with UsageError."""
    env = os.environ if env is None else env
    if opts.stdio:
        return None
    from dunetrace_cli.mcp.hosts import is_loopback  # noqa: PLC0415

    if opts.token_env is not None:
        name = opts.token_env.strip()
        if not name:
            raise UsageError("--token-env needs the name of an environment variable, e.g. --token-env MCP_TOKEN.")
        token = env.get(name, "")
        if not token.strip():
            raise UsageError(
                f"--token-env {name}: the environment variable {name} is not set or empty. "
                f"Export a long random secret in it (e.g. `export {name}=$(openssl rand -hex 32)`)."
            )
        return token.strip()
    token = env.get(EnvVars.MCP_TOKEN, "").strip()
    if token:
        return token
    if not is_loopback(opts.host):
        raise UsageError(
            f"refusing to serve MCP on {opts.host} without a bearer token: anyone who can reach the port could "
            f"read your Dunetrace data. Set {EnvVars.MCP_TOKEN} (or --token-env VAR) to a long random secret "
            f"and have clients send 'Authorization: Bearer <secret>', or bind --host 127.0.0.1."
        )
    return None


MCP_REQUIREMENT = "mcp>=2.3,<3"


def load_server_module() -> Any:
    """Import :mod:`dunetrace_cli.mcp.server` (the SDK) or say, in one sentence, which SDK is installed.

    The usual cause is an environment shared with upstream ``dunetrace-mcp``, which pins ``mcp<2``:
    the 1.x SDK has no ``mcp.server.mcpserver``. That is a set-up problem, exit 3 (auth/config).
    """
    import importlib  # noqa: PLC0415

    try:
        importlib.import_module("dunetrace_cli.mcp.transports")
        return importlib.import_module("dunetrace_cli.mcp.server")  # the SDK, imported lazily
    except ImportError as exc:
        raise ConfigError(mcp_sdk_sentence(exc)) from exc


def mcp_sdk_sentence(exc: ImportError) -> str:
    from importlib import metadata  # noqa: PLC0415

    try:
        installed = f"mcp {metadata.version('mcp')} is installed"
    except metadata.PackageNotFoundError:
        installed = "the mcp package is not installed"
    missing = exc.name or "a module"
    return (
        f"dunetrace mcp serve needs the MCP Python SDK {MCP_REQUIREMENT}, but {installed} "
        f"(importing {missing} failed; upstream dunetrace-mcp pins mcp<2). "
        f"Run `pip install '{MCP_REQUIREMENT}'` in this environment, or install dunetrace-cli in its own "
        "(`pipx install .` or `uv tool install .` from a checkout)."
    )


def check_scale_out(opts: ServeOptions) -> None:
    """--stateless and --workers: streamable HTTP only; several workers only without sessions."""
    if opts.stateless and not opts.http:
        raise UsageError("--stateless applies to streamable HTTP: add --http.")
    if opts.workers < 1:
        raise UsageError(f"invalid --workers {opts.workers}: use 1 or more.")
    if opts.workers > 1 and (not opts.http or opts.sse or not opts.stateless):
        raise UsageError(
            "--workers needs --http --stateless (and no --sse): a session lives in the process that opened it, "
            "while each connection may reach any worker."
        )


READONLY_ENV = "DUNETRACE_MCP_READONLY"  # upstream dunetrace-mcp's switch: 0/false/no registers the write tools


def writes_allowed(opts: ServeOptions | None = None, env: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """The 9 write tools: with --allow-writes, or upstream's DUNETRACE_MCP_READONLY=0/false/no."""
    env = os.environ if env is None else env
    return bool(opts and opts.allow_writes) or env.get(READONLY_ENV, "").strip().lower() in ("0", "false", "no")


def serve_with(settings: Settings, opts: ServeOptions) -> None:
    """Build the server for ``settings`` and serve it over the transports in ``opts`` (blocks)."""
    token = resolve_token(opts)
    if not opts.stdio and not 0 <= opts.port <= 65535:
        raise UsageError(f"invalid --port {opts.port}: use 1-65535 (or 0 for a free port).")
    check_scale_out(opts)

    mcp_server = load_server_module()
    from dunetrace_cli.mcp import transports  # noqa: PLC0415 - loaded by load_server_module

    transports.configure_logging(debug=opts.debug)

    def announce(line: str) -> None:
        print(f"dunetrace mcp: {line}", file=sys.stderr, flush=True)

    writes = writes_allowed(opts)
    if writes:
        os.environ[READONLY_ENV] = "false"  # worker processes (--workers) read the same switch
        announce("write tools on (policies, custom detectors, resolve_issue, trigger_explain); deletes and "
                 "resolve ask for confirmation where the client supports elicitation.")
    banner = (
        f"serving {settings.display_url} (profile {settings.profile})"
        + ("; bearer token required" if token else "; no token (loopback only)")
        + ("; stateless" if opts.stateless else "")
        + (f"; {opts.workers} workers" if opts.workers > 1 else "")
    )
    if opts.workers > 1:
        token_env = (opts.token_env or "").strip() or (EnvVars.MCP_TOKEN if token else None)
        spec = transports.WorkerSpec(
            **opts.settings_overrides, token_env=token_env if token else None, host=opts.host,
            allowed_hosts=opts.allow_hosts, debug=opts.debug,
        )
        transports.run_workers(spec, port=opts.port, workers=opts.workers, announce=announce, banner=banner)
        return
    server = mcp_server.build_server(settings, auth_token=token, allow_writes=writes)
    if opts.stdio:
        if opts.host != DEFAULT_HOST or opts.port != DEFAULT_PORT:
            print("dunetrace mcp: --host/--port only apply with --sse or --http; serving stdio.", file=sys.stderr)
        transports.run_stdio(server)
        return
    transports.run_http(
        server, sse=opts.sse, http=opts.http, host=opts.host, port=opts.port, allowed_hosts=opts.allow_hosts,
        stateless=opts.stateless, announce=announce, banner=banner,
    )


def _debug_env() -> bool:
    return os.environ.get(EnvVars.DEBUG, "") not in ("", "0", "false", "no")


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


# --------------------------------------------------------------------------- dunetrace-mcp


def _legacy_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dunetrace-mcp",
        description=(
            "Dunetrace MCP server (drop-in for the upstream dunetrace-mcp). Reads DUNETRACE_API_URL and "
            "DUNETRACE_API_KEY (and the dunetrace config profiles). Same as `dunetrace mcp serve`."
        ),
    )
    parser.add_argument("--sse", action="store_true", help="serve legacy SSE at /sse instead of stdio")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp (with --sse: both)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind for --sse/--http (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port for --sse/--http (default {DEFAULT_PORT})")
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        default=None,
        help="require 'Authorization: Bearer $VAR' on HTTP (default: DUNETRACE_MCP_TOKEN if set)",
    )
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME", help="extra Host header value to accept"
    )
    parser.add_argument("--stateless", action="store_true", help="stateless streamable HTTP (with --http)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="N uvicorn workers (needs --stateless)")
    parser.add_argument(
        "--allow-writes", action="store_true",
        help="also register the write tools (same as DUNETRACE_MCP_READONLY=false, upstream's switch)",
    )
    parser.add_argument("--version", action="version", version=f"dunetrace-mcp (dunetrace-cli) {__version__}")
    return parser


def legacy_main(argv: list[str] | None = None) -> None:
    """Entry point of the `dunetrace-mcp` console script (upstream flags: --sse, --port, --host, --version)."""
    args = _legacy_parser().parse_args(argv)
    opts = ServeOptions(
        sse=args.sse,
        http=args.http,
        host=args.host,
        port=args.port,
        token_env=args.token_env,
        allow_hosts=list(args.allow_host),
        debug=_debug_env(),
        stateless=args.stateless,
        workers=args.workers,
        allow_writes=args.allow_writes,
    )
    try:
        serve_with(load_settings(), opts)
    except DunetraceError as exc:
        print(f"dunetrace-mcp: error: {exc.message}", file=sys.stderr)
        sys.exit(int(exc.exit_code))
    except OSError as exc:
        print(f"dunetrace-mcp: error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}.", file=sys.stderr)
        sys.exit(int(ExitCode.USAGE))
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))


__all__ = ["ServeOptions", "app", "legacy_main", "resolve_token", "serve_with"]
