"""The MCP server: the registry's tools, resources, prompts and completion (served by :mod:`.transports`).

This package is the only one that imports the ``mcp`` SDK (pinned to 2.x in pyproject), and only
when ``dunetrace mcp serve`` runs. The tools are generated from the operation registry
(:mod:`dunetrace_cli.mcp.tools`) and answered by one shared :class:`~dunetrace_cli.mcp.runner.Runner`.
"""

import logging
from collections.abc import Callable
from typing import Any

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.types import Completion, PromptReference, ResourceTemplateReference

from dunetrace_cli import __version__
from dunetrace_cli.config import Settings
from dunetrace_cli.errors import DunetraceError
from dunetrace_cli.mcp import prompts as prompt_files
from dunetrace_cli.mcp.auth import auth_kwargs
from dunetrace_cli.mcp.runner import INTERNAL_ERROR, Runner
from dunetrace_cli.mcp.schema import output_schema
from dunetrace_cli.mcp.tools import READ_ONLY, build_tools
from dunetrace_cli.queries.guides import get_guide
from dunetrace_cli.render import markdown as md

logger = logging.getLogger("dunetrace_cli.mcp")

SERVER_NAME = "dunetrace"
INSTRUCTIONS = prompt_files.instructions()  # dunetrace_cli/mcp/prompts/instructions.md


# --------------------------------------------------------------------------- the server


class DunetraceServer(MCPServer):
    """The SDK's server, with prompt errors as clean protocol errors (no traceback in the log)."""

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


def build_server(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    auth_token: str | None = None,
    issuer_url: str = "http://127.0.0.1",
    allow_writes: bool = False,
) -> MCPServer:
    """The Dunetrace MCP server over ``settings`` (``transport`` lets tests plug in a fake API).

    ``auth_token``: require ``Authorization: Bearer <token>`` on the HTTP transports.
    """
    runner = Runner(settings, transport)
    tools = build_tools(allow_writes=allow_writes)

    server = DunetraceServer(
        SERVER_NAME,
        title="Dunetrace",
        description="Triage AI-agent failures recorded by Dunetrace.",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=tools,
        log_level="WARNING",
        **auth_kwargs(auth_token, issuer_url),
    )
    server.dunetrace_runner = runner  # type: ignore[attr-defined]  # reached by the tools through ctx.mcp_server


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
        from dunetrace_cli.knowledge.detectors import DETECTORS

        return md.render_detector_reference(DETECTORS.values())

    def _guide_text(framework: str) -> str:
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

    from dunetrace_cli.mcp.views._base import text as clean_text

    for name in prompt_files.PROMPTS:
        prompt = prompt_files.load(name)
        server.prompt(name=prompt.name, title=prompt.title, description=prompt.description)(
            prompt_files.renderer(prompt, lambda v: clean_text(v, 256))
        )

    # ---- completion ----------------------------------------------------------------------

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        value = (argument.value or "").strip()
        if isinstance(ref, PromptReference) and argument.name == "agent_id":
            try:
                names = await runner.agent_ids()
            except DunetraceError as exc:
                logger.warning("completion: %s", exc.message)
                return Completion(values=[], total=0, has_more=False)
            return _completion(names, value)
        if isinstance(ref, ResourceTemplateReference) and argument.name == "framework":
            return _completion([*FRAMEWORKS, *sorted(ALIASES)], value)
        return None

    return server


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
        from dunetrace_cli.knowledge.detectors import DETECTORS

        return md.render_detector_reference(DETECTORS.values())

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


__all__ = ["INSTRUCTIONS", "INTERNAL_ERROR", "READ_ONLY", "build_server", "output_schema"]
