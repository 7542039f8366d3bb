"""`dunetrace mcp serve`'s start-up, without Typer: the serve options, the checks, the serving, the
upstream-compatible `dunetrace-mcp` script, and the fast path that starts the server before the Typer app
is built.

The MCP SDK takes most of a second to import; whatever the CLI imports on top of it delays every editor's
first ``tools/list`` (issue 13 keeps spawn-to-catalog within 1.2x of ``import mcp.server.mcpserver``). So
``dunetrace [GLOBAL OPTIONS] mcp serve [OPTIONS]`` is recognised here from argv (:func:`fast_serve`), with
exactly the option spellings click accepts; anything else (``--help``, an unknown or repeated option, a
value that does not parse, shell completion) returns None and the Typer app (:mod:`.mcp_cmd`) handles it,
so usage errors and help stay the Typer ones. Under stdio nothing but protocol reaches stdout.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dunetrace_cli import __version__
from dunetrace_cli.cli import serve_options
from dunetrace_cli.cli.serve_options import DEFAULT_HOST, DEFAULT_PORT
from dunetrace_cli.config import EnvVars, Settings, load_settings
from dunetrace_cli.errors import ConfigError, DunetraceError, ExitCode, UsageError

if TYPE_CHECKING:
    import argparse

@dataclass
class ServeOptions:
    """How to serve: the fields of cli/serve_options.py's SERVE (the options), then what comes from elsewhere."""

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
        _start_up_over()
        token_env = (opts.token_env or "").strip() or (EnvVars.MCP_TOKEN if token else None)
        spec = transports.WorkerSpec(
            **opts.settings_overrides, token_env=token_env if token else None, host=opts.host,
            allowed_hosts=opts.allow_hosts, debug=opts.debug,
        )
        transports.run_workers(spec, port=opts.port, workers=opts.workers, announce=announce, banner=banner)
        return
    server = mcp_server.build_server(settings, auth_token=token, allow_writes=writes)
    _start_up_over()
    if opts.stdio:
        if opts.host != DEFAULT_HOST or opts.port != DEFAULT_PORT:
            print("dunetrace mcp: --host/--port only apply with --sse or --http; serving stdio.", file=sys.stderr)
        transports.run_stdio(server)
        return
    transports.run_http(
        server, sse=opts.sse, http=opts.http, host=opts.host, port=opts.port, allowed_hosts=opts.allow_hosts,
        stateless=opts.stateless, announce=announce, banner=banner,
    )


def _start_up_over() -> None:
    """The cyclic GC back on (``dunetrace_cli.__main__`` turns it off for start-up), start-up's long-lived objects
    (modules, classes, the server's tools) frozen first so no later collection of a long-running server scans them."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _debug_env() -> bool:
    return os.environ.get(EnvVars.DEBUG, "") not in ("", "0", "false", "no")


# --------------------------------------------------------------------------- dunetrace-mcp


def _legacy_parser() -> argparse.ArgumentParser:
    """`dunetrace-mcp`'s options: those of `dunetrace mcp serve` (cli/serve_options.py), and --version."""
    import argparse  # noqa: PLC0415 - only the dunetrace-mcp script parses with it

    parser = argparse.ArgumentParser(
        prog="dunetrace-mcp",
        description=(
            "Dunetrace MCP server (drop-in for the upstream dunetrace-mcp). Reads DUNETRACE_API_URL and "
            "DUNETRACE_API_KEY (and the dunetrace config profiles). Same as `dunetrace mcp serve`."
        ),
    )
    for opt in serve_options.SERVE:
        shown = f"  [default: {opt.default}]" if opt.default is not None and opt.kind != "flag" else ""
        if opt.kind == "flag":
            parser.add_argument(*opt.decls, dest=opt.name, action="store_true", help=opt.help)
        else:
            parser.add_argument(
                *opt.decls, dest=opt.name, type=opt.python_type, action="append" if opt.kind == "list" else "store",
                default=opt.default, metavar=opt.metavar, help=opt.help + shown,
            )
    parser.add_argument("--version", action="version", version=f"dunetrace-mcp (dunetrace-cli) {__version__}")
    return parser


def legacy_main(argv: list[str] | None = None) -> None:
    """Entry point of the `dunetrace-mcp` console script (upstream flags: --sse, --port, --host, --version)."""
    args = _legacy_parser().parse_args(argv)
    given = {opt.name: getattr(args, opt.name) for opt in serve_options.SERVE}
    opts = ServeOptions(**serve_options.defaults(serve_options.SERVE, given), debug=_debug_env())
    try:
        serve_with(load_settings(), opts)
    except DunetraceError as exc:
        print(f"dunetrace-mcp: error: {exc.message}", file=sys.stderr)
        sys.exit(int(exc.exit_code))
    except OSError as exc:
        print(f"dunetrace-mcp: error: cannot serve on {opts.host}:{opts.port}: {exc.strerror or exc}.", file=sys.stderr)
        sys.exit(int(ExitCode.USAGE))
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))


# --------------------------------------------------------------------------- the fast path

_COMPLETE_ENV = "_DUNETRACE_COMPLETE"  # click's shell-completion switch for prog "dunetrace"


def parse_fast(argv: list[str]) -> tuple[dict[str, Any], ServeOptions] | None:
    """``(settings overrides, ServeOptions)`` for ``[GLOBAL OPTIONS] mcp serve [OPTIONS]``, else None.

    Both option sets are cli/serve_options.py's (ROOT, SERVE), the ones the Typer command is built from.
    """
    if _COMPLETE_ENV in os.environ:
        return None
    try:
        at = argv.index("mcp")
    except ValueError:
        return None
    if argv[at + 1:at + 2] != ["serve"]:
        return None
    root = serve_options.parse_options(argv[:at], serve_options.ROOT)
    serve = serve_options.parse_options(argv[at + 2:], serve_options.SERVE)
    if root is None or serve is None:
        return None
    overrides = {"api_url": root.get("api_url"), "timeout": root.get("timeout"), "profile": root.get("profile")}
    opts = ServeOptions(
        **serve_options.defaults(serve_options.SERVE, serve), debug=bool(root.get("debug")) or _debug_env(),
        settings_overrides=overrides,
    )
    return overrides, opts


def fast_serve(argv: list[str]) -> int | None:
    """Serve ``dunetrace ... mcp serve ...`` without building the Typer app; None: not ours, run the app.

    The outcomes are the Typer command's: its error sentence (cli/_run.py's, loaded only on failure) and
    exit code, 130 on Ctrl-C.
    """
    parsed = parse_fast(argv)
    if parsed is None:
        return None
    overrides, opts = parsed
    try:
        serve_with(load_settings(**overrides), opts)
    except DunetraceError as exc:
        return _report(exc.message, int(exc.exit_code))
    except OSError as exc:  # e.g. the port is taken
        return _report(f"cannot serve on {opts.host}:{opts.port}: {exc.strerror or exc}.", int(ExitCode.USAGE))
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    return 0


def _report(message: str, code: int) -> int:
    from dunetrace_cli.cli._run import report_error  # noqa: PLC0415 - rich, only when there is an error

    report_error(message, code)
    return code


__all__ = [
    "DEFAULT_HOST", "DEFAULT_PORT", "READONLY_ENV", "ServeOptions", "fast_serve", "legacy_main", "parse_fast",
    "resolve_token", "serve_with", "writes_allowed",
]
