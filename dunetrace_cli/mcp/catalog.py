"""The ``tools/list`` catalog, precomputed: ``catalog.json`` beside this module.

Building the tools costs what an editor waits for at every spawn: every result model imported (pydantic
classes), an argument model per tool and two JSON schemas each. The catalog is the same data generated
once from the registry (``python -m dunetrace_cli.mcp.catalog --write``), so ``dunetrace mcp serve``
answers ``tools/list`` from it and builds a tool only when it is first called (:mod:`.server`).
``tests/mcp/test_catalog_file.py`` holds the file to the full build, byte for byte on the wire: after
changing an operation, a parameter, a view or a model, regenerate it (the test says so).

    python -m dunetrace_cli.mcp.catalog --write   # regenerate
    python -m dunetrace_cli.mcp.catalog --check   # exit 1 when it is stale
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.types import Tool as MCPTool

FILE = "catalog.json"
REGENERATE = "python -m dunetrace_cli.mcp.catalog --write"


def _path() -> Any:
    return resources.files(__package__ or "dunetrace_cli.mcp").joinpath(FILE)


def wire(tool: MCPTool) -> dict[str, Any]:
    """One ``tools/list`` entry as the SDK serialises it (``ListToolsResult``'s dump)."""
    return tool.model_dump(by_alias=True, mode="json", exclude_none=True)


def generate() -> dict[str, Any]:
    """The catalog from the full build: every MCP tool (write tools flagged), in registry order."""
    import asyncio

    from mcp.server.mcpserver import MCPServer

    from dunetrace_cli.mcp.tools import build_tools, mcp_operations

    ops = mcp_operations(allow_writes=True)
    listed = asyncio.run(MCPServer("catalog", tools=build_tools(allow_writes=True)).list_tools())
    return {
        "generated_by": REGENERATE,
        "tools": [{"writes": op.writes, "tool": wire(tool)} for op, tool in zip(ops, listed, strict=True)],
    }


def text(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, indent=1, ensure_ascii=False) + "\n"


def read() -> dict[str, Any] | None:
    """The stored catalog, or None when the file is missing or unreadable (the server then builds it)."""
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("tools"), list) else None


def load(*, allow_writes: bool = False) -> list[MCPTool] | None:
    """The ``tools/list`` entries to serve (write tools only when ``allow_writes``), or None."""
    data = read()
    if data is None:
        return None
    from mcp.types import Tool as MCPTool

    try:
        return [MCPTool.model_validate(e["tool"]) for e in data["tools"] if allow_writes or not e["writes"]]
    except (KeyError, TypeError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["--write"], ["--check"]):
        print("usage: python -m dunetrace_cli.mcp.catalog --write | --check", file=sys.stderr)
        return 2
    fresh = text(generate())
    path = _path()
    if args == ["--write"]:
        with resources.as_file(path) as target:
            target.write_text(fresh, encoding="utf-8")
        print(f"wrote {FILE}: {len(json.loads(fresh)['tools'])} tools", file=sys.stderr)
        return 0
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    if current != fresh:
        print(f"{FILE} is stale: run `{REGENERATE}`.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
