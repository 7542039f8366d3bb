"""Every operation declared once: its CLI command, its MCP tool, its parameters, query, model, renderers.

The Typer app (``cli/commands.py``), the MCP tool list (``mcp/tools.py``), the completion scripts, the
catalog test and the README's command table are all built from :data:`OPERATIONS`. Operations are
declared in ``dunetrace_cli/ops/<area>.py`` and listed in ``ops/__init__.py``; queries, models and
renderers are named as ``"module:attribute"`` strings and imported only when an operation runs, so
building ``--help`` imports neither httpx nor pydantic.
"""

from __future__ import annotations

import importlib
import json
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dunetrace_cli.params import Param

if TYPE_CHECKING:
    from dunetrace_cli.models.common import NextStep


@dataclass(frozen=True, eq=False)
class Operation:
    """One read or write operation, for both faces."""

    name: str  # registry key, also the NextStep.op that points at it
    query: str  # "module:function": async (client, **kwargs) -> model; offline: sync (**kwargs) -> model
    model: str  # "module:Class": the result model (--json, and the MCP outputSchema unless mcp_model)
    summary: str  # first line of --help and the MCP tool description
    params: tuple[Param, ...] = ()
    cli: str | None = None  # CLI command ("signals"; "policy create" for a subcommand); None: MCP only
    mcp: str | None = None  # MCP tool name (upstream's spelling); None: CLI only
    table: str | None = None  # "module:function" (result, now) -> rich renderable
    text: str | None = None  # "module:function" (result) -> str: printed instead of the table when piped (documents)
    markdown: str | None = None  # "module:function" (result, *, now, **markdown_kw) -> str (MCP text)
    markdown_kw: dict[str, Any] = field(default_factory=dict)
    mcp_model: str | None = None  # compact MCP view model (structuredContent), when it differs from model
    mcp_view: str | None = None  # "module:function" (result) -> mcp_model instance
    description: str | None = None  # longer MCP description (defaults to summary)
    title: str | None = None  # MCP tool title
    panel: str = "Triage"  # --help panel
    examples: tuple[str, ...] = ()  # shown at the end of --help; a test runs each against the fake API
    list_result: bool = False  # a list: --format tsv/csv/ndjson and --fields, plain rows when piped
    offline: bool = False  # the query needs no API client
    writes: bool = False  # changes server state: MCP registers it only with --allow-writes
    destructive: bool = False  # deletes or resolves: confirmation required
    bind: str | None = None  # "module:function" (kwargs, face) -> kwargs, for mappings a Param cannot say
    mcp_order: tuple[str, ...] | None = None  # MCP argument order when it differs from the CLI's

    def cli_params(self) -> list[Param]:
        return [p for p in self.params if p.on_cli]

    def mcp_params(self) -> list[Param]:
        params = [p for p in self.params if p.on_mcp]
        order = self.mcp_order
        if order:
            params.sort(key=lambda p: order.index(p.name) if p.name in order else len(order))
        return params


OPERATIONS: dict[str, Operation] = {}


def register(op: Operation) -> Operation:
    if op.name in OPERATIONS:
        raise ValueError(f"operation {op.name!r} registered twice")
    OPERATIONS[op.name] = op
    return op


def load() -> dict[str, Operation]:
    """Import every ``ops`` module once (each registers its operations) and return the registry."""
    if not OPERATIONS:
        from dunetrace_cli.ops import MODULES

        for module in MODULES:
            importlib.import_module(f"dunetrace_cli.ops.{module}")
    return OPERATIONS


def get(name: str) -> Operation:
    return load()[name]


def by_cli(command: str) -> Operation | None:
    return next((op for op in load().values() if op.cli == command), None)


def by_mcp(tool: str) -> Operation | None:
    return next((op for op in load().values() if op.mcp == tool), None)


def resolve(path: str) -> Any:
    """``"package.module:attr"`` -> the object (imported on first use)."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


# --------------------------------------------------------------------------- arguments


def bind_arguments(op: Operation, raw: dict[str, Any], face: str, now: float) -> dict[str, Any]:
    """Face arguments (by Param.name) -> the query's keyword arguments, parsed and checked.

    The one place both faces turn user input into query input: every parser runs here,
    before any request, and raises :class:`~dunetrace_cli.errors.UsageError` on bad input.
    """
    params = op.cli_params() if face == "cli" else op.mcp_params()
    kwargs: dict[str, Any] = {}
    for param in params:
        if param.name not in raw:
            continue
        value = param.value(raw[param.name], now)
        if value is None and param.target in kwargs:
            continue  # a sibling param (e.g. since / since_hours) already gave this dest a value
        kwargs[param.target] = value
    if op.bind:
        kwargs = resolve(op.bind)(kwargs, face)
    return kwargs


# --------------------------------------------------------------------------- next steps, phrased


def _step_value(op: Operation, param: Param, args: dict[str, Any]) -> Any:
    if param.name in args:
        return args[param.name]
    for other in op.params:  # the same dest under the other face's name (since <-> since_hours)
        if other is not param and other.target == param.target and other.name in args:
            return _convert(other.name, args[other.name], param.name)
    return None


def _convert(src: str, value: Any, dst: str) -> Any:
    if src == "since_hours" and dst == "since":
        return f"{value}h"
    if src == "since" and dst == "since_hours" and isinstance(value, str) and value.endswith("h"):
        return int(float(value[:-1]))
    return value


def cli_line(step: NextStep) -> str:
    """A next step as the shell command that runs it, e.g. ``dunetrace signal 87``."""
    op = get(step.op)
    if op.cli is None:
        raise ValueError(f"operation {op.name!r} has no CLI command")
    parts = ["dunetrace", *op.cli.split()]
    for param in op.cli_params():
        value = _step_value(op, param, step.args)
        if value is None or value is False:
            continue
        if param.flag is None:
            parts.append(shlex.quote(str(value)))
        elif value is True:
            parts.append(param.flag)
        else:
            parts += [param.flag, shlex.quote(str(value))]
    return " ".join(parts)


def mcp_call(step: NextStep) -> str:
    """A next step as the MCP tool call that runs it, e.g. ``get_signal_detail(signal_id=87)``."""
    op = get(step.op)
    if op.mcp is None:
        raise ValueError(f"operation {op.name!r} has no MCP tool")
    args = []
    for param in op.mcp_params():
        value = _step_value(op, param, step.args)
        if value is not None:
            args.append(f"{param.name}={json.dumps(value, ensure_ascii=False)}")
    return f"{op.mcp}({', '.join(args)})"
