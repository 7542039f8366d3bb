"""The registry's MCP tools: one top-level async function per operation, generated from its entry.

Each tool function takes the MCP ``Context`` (to reach the server's shared runner) and the
operation's MCP parameters, typed from :mod:`dunetrace_cli.params` so the input schema carries
descriptions, bounds and choices. It binds the arguments with the same parsers as the CLI
(:func:`dunetrace_cli.registry.bind_arguments`), runs the query, and returns Markdown text plus
``structuredContent`` typed by the operation's model (the tool's outputSchema).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BeforeValidator, Field

from dunetrace_cli import registry
from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation

if TYPE_CHECKING:
    from mcp.server.mcpserver.tools import Tool

# destructiveHint and idempotentHint are meaningful only when readOnlyHint is false (MCP spec): saying
# them for read-only tools costs catalog characters in every session and tells a client nothing.
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def annotations_for(op: Operation) -> ToolAnnotations:
    if not op.writes:
        return READ_ONLY
    return ToolAnnotations(
        read_only_hint=False, destructive_hint=op.destructive, idempotent_hint=False, open_world_hint=False
    )


def _blank_to_none(value: Any) -> Any:
    """Upstream clients send "" for "not given"; treat it as omitted."""
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def _canonical(choices: tuple[str, ...]) -> Any:
    """A validator giving any case of a choice its declared spelling ("high" -> "HIGH", "ALL" -> "all")."""
    spelled = {c.lower(): c for c in choices}

    def pick(value: Any) -> Any:
        value = _blank_to_none(value)
        return spelled.get(value.lower(), value) if isinstance(value, str) else value

    return pick


def _annotation(param: Param) -> tuple[Any, Any]:
    """(annotation, default) of one MCP argument."""
    inner: dict[str, Any] = {}
    if param.ge is not None:
        inner["ge"] = param.ge
    if param.le is not None and param.mcp_le is None:
        inner["le"] = param.le
    for key in ("min_length", "max_length", "pattern"):
        if getattr(param, key) is not None:
            inner[key] = getattr(param, key)
    base: Any = param.type
    if param.choices:
        variants = [c.upper() for c in param.choices] + [c.lower() for c in param.choices]
        values = list(dict.fromkeys([*param.choices, *(variants if param.case_insensitive else [])]))
        base = Literal[tuple(values)]  # type: ignore[valid-type]
        inner = {}
    if inner:
        base = Annotated[base, Field(**inner)]
    default = param.mcp_default if param.mcp_default is not None else param.default
    if not param.required and (default is None or param.choices):  # "" (upstream's "not given") -> None
        base = Optional[base]  # noqa: UP045
    validator = BeforeValidator(_canonical(param.choices) if param.case_insensitive and param.choices else _blank_to_none)
    # an empty help publishes no description (offset: the name and the results' next steps say it)
    annotation = Annotated[base, validator, Field(description=param.help_for("mcp") or None)]
    return annotation, (inspect.Parameter.empty if param.required else default)


def _capped(op: Operation, arguments: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Upstream-compatible caps: values above a param's ``mcp_le`` are lowered, with a note."""
    notes = []
    for param in op.mcp_params():
        value = arguments.get(param.name)
        if param.mcp_le is not None and isinstance(value, (int, float)) and value > param.mcp_le:
            arguments[param.name] = type(value)(param.mcp_le)
            notes.append(f"{param.name} capped at {param.mcp_le:g} (asked for {value:g})")
    return arguments, notes


def tool_function(op: Operation) -> Callable[..., Any]:
    """The MCP tool for ``op``: a top-level coroutine function with a typed signature."""
    names = [p.name for p in op.mcp_params()]

    async def tool(ctx: Context, **values: Any) -> CallToolResult:
        from dunetrace_cli.mcp.runner import runner_of

        arguments, notes = _capped(op, {name: values.get(name) for name in names})
        return await runner_of(ctx).call(op, arguments, notes=notes, ctx=ctx)

    parameters = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Context)]
    for param in op.mcp_params():
        annotation, default = _annotation(param)
        parameters.append(
            inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        )
    tool.__signature__ = inspect.Signature(parameters, return_annotation=CallToolResult)  # type: ignore[attr-defined]
    tool.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": CallToolResult}
    tool.__name__ = tool.__qualname__ = op.mcp or op.name
    tool.__module__ = __name__
    tool.__doc__ = op.description or op.summary
    return tool


def build_tool(op: Operation) -> Tool:
    """The SDK tool of ``op``: its function, input schema (compacted) and output schema (shallow)."""
    from dunetrace_cli.mcp.errors import ReadTool
    from dunetrace_cli.mcp.schema import compact_input, strip_titles
    from dunetrace_cli.mcp.views._base import output_schema

    assert op.mcp is not None, op.name
    fn = tool_function(op)
    globals()[op.mcp] = fn
    tool = ReadTool.from_function(  # argument errors as one sentence
        fn, name=op.mcp, title=op.title, description=(op.description or op.summary).replace("\n", " "),
        annotations=annotations_for(op),
    )
    tool.parameters = compact_input(strip_titles(tool.parameters))
    # shallow (top-level keys and types): the catalog is context in every session (issue 13)
    tool.fn_metadata.output_schema = output_schema(registry.resolve(op.mcp_model or op.model))
    tool.__dict__.pop("output_schema", None)  # a cached_property over fn_metadata
    return tool


def mcp_operations(*, allow_writes: bool = False) -> list[Operation]:
    """The registry operations with an MCP face, in registry order (write tools only when ``allow_writes``)."""
    return [op for op in registry.load().values() if op.mcp is not None and (allow_writes or not op.writes)]


def build_tools(*, allow_writes: bool = False) -> list[Tool]:
    """Every registry operation with an MCP face (write tools only when ``allow_writes``)."""
    return [build_tool(op) for op in mcp_operations(allow_writes=allow_writes)]


def __getattr__(name: str) -> Callable[..., Any]:
    """``dunetrace_cli.mcp.tools.<tool_name>``: the generated tool function, importable by name."""
    op = registry.by_mcp(name)
    if op is None:
        raise AttributeError(name)
    fn = globals()[name] = tool_function(op)
    return fn
