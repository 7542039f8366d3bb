"""Tool errors a model can act on: one sentence, naming the argument or the MCP tool to call next.

* A :class:`~dunetrace_cli.errors.DunetraceError` keeps its sentence; a CLI command it suggests
  (`` `dunetrace runs AGENT` ``) is named as the MCP tool that does the same (from the registry), and a
  ``next_step`` it carries is phrased as a tool call.
* An argument that fails the input schema becomes "``limit`` must be between 1 and 200 (got 999)."
  instead of pydantic's multi-line text with a link.
"""

from __future__ import annotations

import re
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import ValidationError

from dunetrace_cli.errors import DunetraceError

_CLI = re.compile(r"`dunetrace ([a-z][a-z-]*)(?: [^`]*)?`")


def _tool_for(command: str) -> str | None:
    from dunetrace_cli import registry

    try:
        op = registry.by_cli(command)
    except Exception:  # noqa: BLE001 - a registry that cannot load must not hide the error being reported
        return None
    return op.mcp if op is not None else None


def for_model(exc: DunetraceError) -> str:
    """``exc``'s sentence as an MCP tool error: CLI commands named as the matching tools."""

    def swap(match: re.Match[str]) -> str:
        tool = _tool_for(match.group(1))
        return f"`{tool}`" if tool else match.group(0)

    message = _CLI.sub(swap, exc.message)
    step = getattr(exc, "next_step", None)
    if step is not None:
        from dunetrace_cli import registry

        try:
            message = f"{message.rstrip()} Next: {registry.mcp_call(step)}."
        except (KeyError, ValueError):
            pass
    return message


def _accepted(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        values = list(dict.fromkeys(str(v).upper() for v in prop["enum"]))
        return "one of " + ", ".join(values) + " (any case)"
    for option in prop.get("anyOf", []):
        if isinstance(option, dict) and option.get("type") != "null":
            return _accepted(option)
    low, high = prop.get("minimum"), prop.get("maximum")
    kind = prop.get("type")
    noun = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false"}.get(
        kind or "", "a value")
    if low is not None and high is not None:
        return f"{noun} from {low} to {high}"
    if low is not None:
        return f"{noun} of at least {low}"
    if high is not None:
        return f"{noun} of at most {high}"
    if kind == "string" and prop.get("minLength"):
        return f"a string of at least {prop['minLength']} characters"
    return noun


def argument_error(schema: dict[str, Any], exc: ValidationError) -> str:
    """One sentence per bad argument, naming it and what it accepts (from the tool's input schema)."""
    props = schema.get("properties", {})
    parts = []
    for error in exc.errors(include_url=False):
        loc = [str(x) for x in error.get("loc", ()) if not isinstance(x, int)]
        name = loc[0] if loc else "arguments"
        prop = props.get(name, {})
        if error.get("type") == "missing":
            what = prop.get("description") or _accepted(prop)
            parts.append(f"`{name}` is required: {what.rstrip('.')}.")
        elif name not in props:
            parts.append(f"unknown argument `{name}`; this tool takes {', '.join(props) or 'no arguments'}.")
        else:
            got = error.get("input")
            shown = repr(got)[:60]
            parts.append(f"`{name}` must be {_accepted(prop)} (got {shown}).")
    return " ".join(dict.fromkeys(parts)) or "the arguments do not match the tool's input schema."


class ReadTool(Tool):
    """A tool whose argument errors are sentences, not pydantic's report."""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        try:
            return await super().run(arguments, context, convert_result=convert_result)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError) and not isinstance(exc.__cause__.__cause__, Exception):
                raise ToolError(f"Error executing tool {self.name}: {argument_error(self.parameters, exc.__cause__)}") from None
            raise
