"""The options of `dunetrace mcp serve`, declared once, and the argv parser the fast path reads them with.

:data:`SERVE` is the source of the Typer ``serve`` command's parameters (cli/mcp_cmd.py), of the fast
path's parser (:func:`parse_options`, for cli/mcp_serve.py) and of the `dunetrace-mcp` script's argparse
options, so the three accept the same spellings with the same defaults. :data:`ROOT` is the root options
`mcp serve` honours, as cli/app.py's callback declares them (tests/mcp/test_startup_path.py holds the
callback to it). Nothing here imports typer: the fast path starts the server without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

Kind = Literal["flag", "str", "int", "float", "list"]  # flag: no value; list: a value, repeatable


@dataclass(frozen=True)
class Opt:
    """One option: its field (a ServeOptions attribute; the Typer parameter's name), spellings, kind, default."""

    name: str
    decls: tuple[str, ...]
    kind: Kind
    default: Any
    help: str
    metavar: str | None = None
    min: float | None = None
    max: float | None = None

    @property
    def python_type(self) -> type:
        return {"flag": bool, "str": str, "int": int, "float": float, "list": str}[self.kind]


SERVE: tuple[Opt, ...] = (
    Opt("sse", ("--sse",), "flag", False, "Serve legacy SSE at /sse (+ /messages/)."),
    Opt("http", ("--http",), "flag", False, "Serve streamable HTTP at /mcp (with --sse: both)."),
    Opt("host", ("--host",), "str", DEFAULT_HOST, "Address to bind for --sse/--http."),
    Opt("port", ("--port",), "int", DEFAULT_PORT, "Port for --sse/--http (0 picks a free one)."),
    Opt("token_env", ("--token-env",), "str", None,
        "Require 'Authorization: Bearer $VAR' on --sse/--http (default: DUNETRACE_MCP_TOKEN if set). "
        "Mandatory when --host is not loopback.", metavar="VAR"),
    Opt("allow_hosts", ("--allow-host",), "list", None,
        "Extra Host header value clients use to reach this server (DNS-rebinding protection stays on). "
        "Repeatable.", metavar="NAME"),
    Opt("stateless", ("--stateless",), "flag", False,
        "Stateless streamable HTTP (no sessions): any process behind a load balancer answers any request. "
        "With --http."),
    Opt("workers", ("--workers",), "int", 1, "Serve with N uvicorn worker processes (needs --stateless).",
        metavar="N"),
    Opt("allow_writes", ("--allow-writes",), "flag", False,
        "Also register the 9 write tools (policies, custom detectors, resolve_issue, trigger_explain); same as "
        "DUNETRACE_MCP_READONLY=false. Off by default."),
)

ROOT: tuple[Opt, ...] = (
    Opt("api_url", ("--api-url",), "str", None, "Customer API base URL, or 'local' for the embedded store."),
    Opt("timeout", ("--timeout",), "float", None, "Seconds per request (default 15).", min=0.1, max=600),
    Opt("profile", ("--profile", "-p"), "str", None, "Profile from config.toml."),
    Opt("debug", ("--debug",), "flag", False, "Show tracebacks on errors."),
)

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"\d+(\.\d*)?|\.\d+")


def defaults(options: Iterable[Opt], given: dict[str, Any]) -> dict[str, Any]:
    """Every option's value by name: ``given``'s, else its default (a list option: a list, maybe empty)."""
    values = {opt.name: given.get(opt.name, opt.default) for opt in options}
    for opt in options:
        if opt.kind == "list":
            values[opt.name] = list(values[opt.name] or [])
    return values


def parse_options(args: list[str], options: Iterable[Opt]) -> dict[str, Any] | None:
    """``args`` parsed against ``options`` as click parses them (values by name, only those given), or
    None when click could say otherwise: an unknown or repeated option, a missing value or one that
    starts with '-', a value that does not plainly parse or is out of range."""
    by_decl = {decl: opt for opt in options for decl in opt.decls}
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        short = by_decl.get(arg[:2]) if not arg.startswith("--") and len(arg) > 2 else None
        if arg.startswith("--"):
            decl, eq, inline = arg.partition("=")
        elif short is not None and short.kind != "flag":  # -pstaging: click's short option with its value
            decl, eq, inline = arg[:2], "=", arg[2:]
        else:
            decl, eq, inline = arg, "", ""
        opt = by_decl.get(decl)
        if opt is None:
            return None
        if opt.kind == "flag":
            if eq or opt.name in values:
                return None
            values[opt.name] = True
            i += 1
            continue
        if eq:
            value = inline
        elif i + 1 < len(args) and not args[i + 1].startswith("-"):
            value = args[i + 1]
            i += 1
        else:
            return None  # a missing value, or one click may read as an option: its error, not ours
        i += 1
        if opt.kind == "list":
            values.setdefault(opt.name, []).append(value)
            continue
        if opt.name in values:
            return None
        converted = _value(opt, value)
        if converted is None:
            return None
        values[opt.name] = converted
    return values


def _value(opt: Opt, value: str) -> Any:
    if opt.kind == "str":
        return value
    if not (_INT if opt.kind == "int" else _FLOAT).fullmatch(value):
        return None
    number = int(value) if opt.kind == "int" else float(value)
    if (opt.min is not None and number < opt.min) or (opt.max is not None and number > opt.max):
        return None
    return number
