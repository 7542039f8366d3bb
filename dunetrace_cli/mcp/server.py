"""The MCP server: the registry's tools, resources, prompts and completion (served by :mod:`.transports`).

This package is the only one that imports the ``mcp`` SDK (pinned to 2.x in pyproject), and only
when ``dunetrace mcp serve`` runs. The tools are generated from the operation registry
(:mod:`dunetrace_cli.mcp.tools`) and answered by one shared :class:`~dunetrace_cli.mcp.runner.Runner`.

Start-up is what an editor waits for at every spawn (issue 13: within 1.2x of importing the SDK), so
building the server imports nothing beyond the SDK that a ``tools/list`` does not need: ``tools/list``
is answered from the precomputed catalog (:mod:`.catalog`), each tool is built when first called
(:class:`LazyTools`), and the runner (httpx, the API client), the result models, views and renderers
load with the first call that needs them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.tools import Tool, ToolManager
from mcp.types import Completion, PromptReference, ResourceTemplateReference

from dunetrace_cli import __version__
from dunetrace_cli.config import Settings
from dunetrace_cli.errors import DunetraceError
from dunetrace_cli.mcp import prompts as prompt_files

if TYPE_CHECKING:
    import httpx
    from mcp.types import Tool as MCPTool

    from dunetrace_cli.mcp.runner import Runner

logger = logging.getLogger("dunetrace_cli.mcp")

SERVER_NAME = "dunetrace"
INSTRUCTIONS = prompt_files.instructions()  # dunetrace_cli/mcp/prompts/instructions.md


# --------------------------------------------------------------------------- the server


class LazyTools(ToolManager):
    """The SDK's tool manager over tools named up front and each built on first use (``get_tool``).

    Listing them all (``list_tools``) builds the rest, in the order given.
    """

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self._order = list(names)
        self._pending = set(names)

    def _build(self, name: str) -> None:
        from dunetrace_cli import registry
        from dunetrace_cli.mcp.tools import build_tool

        op = registry.by_mcp(name)
        self._pending.discard(name)
        if op is not None:
            self._tools[name] = build_tool(op)

    def get_tool(self, name: str) -> Tool | None:
        if name in self._pending:
            self._build(name)
        return super().get_tool(name)

    def list_tools(self) -> list[Tool]:
        for name in [n for n in self._order if n in self._pending]:
            self._build(name)
        ordered = {n: self._tools[n] for n in self._order if n in self._tools}
        return [*ordered.values(), *(t for n, t in self._tools.items() if n not in ordered)]

    def add_tool(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Tool:
        self.list_tools()  # a name already pending is a duplicate, as with tools built up front
        return super().add_tool(fn, *args, **kwargs)

    def remove_tool(self, name: str) -> None:
        if name in self._pending:
            self._pending.discard(name)
            self._order.remove(name)
            return
        super().remove_tool(name)


class DunetraceServer(MCPServer):
    """The SDK's server, with prompt errors as clean protocol errors (no traceback in the log), ``tools/list``
    from the precomputed catalog (``catalog``; None: from the tools) and the runner made on first use."""

    def __init__(self, *args: Any, settings: Settings, transport: httpx.AsyncBaseTransport | None = None,
                 catalog: list[MCPTool] | None = None, **kwargs: Any) -> None:
        with _sdk_logging_once():
            super().__init__(*args, **kwargs)
        self._dunetrace = (settings, transport)
        self._runner: Runner | None = None
        self._catalog = catalog

    @property
    def dunetrace_runner(self) -> Runner:
        """The tools' shared runner (reached through ``ctx.mcp_server``); httpx loads with it."""
        if self._runner is None:
            from dunetrace_cli.mcp.runner import Runner

            self._runner = Runner(*self._dunetrace)
        return self._runner

    async def list_tools(self) -> list[MCPTool]:
        if self._catalog is not None:
            return list(self._catalog)
        return await super().list_tools()

    def add_tool(self, *args: Any, **kwargs: Any) -> None:
        self._catalog = None  # the catalog no longer lists every tool
        super().add_tool(*args, **kwargs)

    def remove_tool(self, name: str) -> None:
        self._catalog = None
        super().remove_tool(name)

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None, context: Any = None) -> Any:
        from mcp import MCPError
        from mcp.types import INVALID_PARAMS

        prompt = self._prompt_manager.get_prompt(name)
        if prompt is None:
            known = ", ".join(p.name for p in self._prompt_manager.list_prompts())
            raise MCPError(INVALID_PARAMS, f"no prompt named {name[:64]!r}; the prompts are: {known}.")
        missing = [a.name for a in prompt.arguments or [] if a.required and a.name not in (arguments or {})]
        if missing:
            raise MCPError(INVALID_PARAMS, f"prompt {name!r} needs the argument {', '.join(missing)}.")
        try:
            return await super().get_prompt(name, arguments, context)
        except ValueError as exc:
            raise MCPError(INVALID_PARAMS, f"prompt {name!r}: {str(exc)[:200]}") from None


@contextlib.contextmanager
def _sdk_logging_once() -> Iterator[None]:
    """The SDK's ``configure_logging`` without its rich import when it would change nothing.

    ``MCPServer.__init__`` imports rich for a ``logging.basicConfig`` handler (150 ms at every spawn), and
    ``basicConfig`` does nothing once the root logger has a handler, which ``transports.configure_logging``
    installs before the server is built. So with a root handler the call is skipped; without, it runs.
    """
    from mcp.server.mcpserver import server as sdk

    original = sdk.configure_logging

    def configure(*args: Any, **kwargs: Any) -> None:
        if not logging.getLogger().handlers:
            original(*args, **kwargs)

    sdk.configure_logging = configure  # type: ignore[assignment]
    try:
        yield
    finally:
        sdk.configure_logging = original  # type: ignore[assignment]


def _tools(allow_writes: bool, precomputed: bool) -> tuple[list[Tool] | None, list[MCPTool] | None]:
    """(tools built now, catalog to list) : the catalog and no tools yet, or (no catalog) every tool."""
    if precomputed:
        from dunetrace_cli.mcp import catalog

        listed = catalog.load(allow_writes=allow_writes)
        if listed is not None:
            return None, listed
    from dunetrace_cli.mcp.tools import build_tools

    return build_tools(allow_writes=allow_writes), None


def build_server(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    auth_token: str | None = None,
    issuer_url: str = "http://127.0.0.1",
    allow_writes: bool = False,
    precomputed: bool = True,
) -> MCPServer:
    """The Dunetrace MCP server over ``settings`` (``transport`` lets tests plug in a fake API).

    ``auth_token``: require ``Authorization: Bearer <token>`` on the HTTP transports.
    ``precomputed``: answer ``tools/list`` from ``catalog.json`` and build each tool when first called;
    False builds every tool now and lists them (the catalog is generated that way).
    """
    tools, listed = _tools(allow_writes, precomputed)
    auth: dict[str, Any] = {}
    if auth_token:
        from dunetrace_cli.mcp.auth import auth_kwargs

        auth = auth_kwargs(auth_token, issuer_url)
    server = DunetraceServer(
        SERVER_NAME,
        title="Dunetrace",
        description="Triage AI-agent failures recorded by Dunetrace.",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=tools,
        log_level="WARNING",
        settings=settings,
        transport=transport,
        catalog=listed,
        **auth,
    )
    if listed is not None:
        server._tool_manager = LazyTools([t.name for t in listed])  # the SDK's seam for its tools

    # ---- resources -----------------------------------------------------------------------

    from dunetrace_cli.guides import ALIASES, FRAMEWORKS

    @server.resource(
        "dunetrace://detectors",
        name="detectors",
        title="Detector reference",
        description="Every built-in failure type: what it catches, default severity, typical fix.",
        mime_type="text/markdown",
    )
    def detectors() -> str:
        return _detector_reference()

    def _guide_text(framework: str) -> str:
        from dunetrace_cli.queries.guides import get_guide

        try:
            return get_guide(framework=framework).markdown
        except DunetraceError as exc:
            raise ResourceNotFoundError(exc.message) from None

    def _static_guide(name: str) -> Callable[[], str]:
        def read() -> str:
            return _guide_text(name)

        read.__name__ = f"guide_{name.replace('-', '_')}"
        return read

    for name in FRAMEWORKS:
        server.resource(
            f"dunetrace://guides/{name}",
            name=f"guide-{name}",
            title=f"Instrumentation guide: {name}",
            description=f"How to instrument a {name} agent with Dunetrace.",
            mime_type="text/markdown",
        )(_static_guide(name))

    @server.resource(
        "dunetrace://guides/{framework}",
        name="guide",
        title="Instrumentation guide",
        description="Instrumentation guide for a framework: " + ", ".join(FRAMEWORKS) + " (aliases accepted).",
        mime_type="text/markdown",
    )
    def guide(framework: str) -> str:
        return _guide_text(framework)

    _upstream_doc_resources(server, _static_guide)

    # ---- prompts (data files: dunetrace_cli/mcp/prompts/*.md) -------------------------

    for name in prompt_files.PROMPTS:
        prompt = prompt_files.load(name)
        server.prompt(name=prompt.name, title=prompt.title, description=prompt.description)(
            prompt_files.renderer(prompt, _clean_argument)
        )

    # ---- completion ----------------------------------------------------------------------

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        value = (argument.value or "").strip()
        if isinstance(ref, PromptReference) and argument.name == "agent_id":
            try:
                names = await server.dunetrace_runner.agent_ids()
            except DunetraceError as exc:
                logger.warning("completion: %s", exc.message)
                return Completion(values=[], total=0, has_more=False)
            return _completion(names, value)
        if isinstance(ref, ResourceTemplateReference) and argument.name == "framework":
            return _completion([*FRAMEWORKS, *sorted(ALIASES)], value)
        return None

    return server


def _clean_argument(value: Any) -> Any:
    """A prompt argument as untrusted text (the views' one cleaner, loaded when a prompt is rendered)."""
    from dunetrace_cli.mcp.views._base import text as clean_text

    return clean_text(value, 256)


def _detector_reference() -> str:
    from dunetrace_cli.knowledge.detectors import DETECTORS
    from dunetrace_cli.render import markdown as md

    return md.render_detector_reference(DETECTORS.values())


def _completion(candidates: list[str], prefix: str) -> Completion:
    low = prefix.lower()
    starts = [c for c in candidates if c.lower().startswith(low)]
    contains = [c for c in candidates if low in c.lower() and c not in starts]
    matches = starts + contains
    return Completion(values=matches[:100], total=len(matches), has_more=len(matches) > 100)


def _upstream_doc_resources(server: MCPServer, static_guide: Callable[[str], Callable[[], str]]) -> None:
    """Upstream dunetrace-mcp's resource URIs (``dunetrace://docs/...``), next to ours (issue 8)."""
    from dunetrace_cli.guides import DOC_URIS

    for doc, framework in DOC_URIS.items():
        server.resource(
            f"dunetrace://docs/{doc}", name=f"doc_{doc.replace('-', '_')}", title=f"Docs: {doc}",
            description=f"Upstream-compatible name for dunetrace://guides/{framework}.", mime_type="text/markdown",
        )(static_guide(framework))

    @server.resource(
        "dunetrace://docs/detectors", name="doc_detectors", title="Docs: detectors",
        description="Upstream-compatible name for dunetrace://detectors.", mime_type="text/markdown",
    )
    def doc_detectors() -> str:
        return _detector_reference()

    @server.resource(
        "dunetrace://docs/mcp-server", name="doc_mcp_server", title="Docs: this MCP server",
        description="The tools this server offers, from the registry.", mime_type="text/markdown",
    )
    def doc_mcp_server() -> str:
        from dunetrace_cli import registry

        lines = ["# Dunetrace MCP server (dunetrace-cli)", "", "| tool | what it does |", "|---|---|"]
        for op in registry.load().values():
            if op.mcp:
                lines.append(f"| `{op.mcp}` | {op.summary}{' (write tool: opt-in)' if op.writes else ''} |")
        return "\n".join(lines) + "\n"


__all__ = ["INSTRUCTIONS", "DunetraceServer", "LazyTools", "build_server"]
