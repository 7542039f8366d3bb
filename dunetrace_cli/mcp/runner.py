"""The tool runner: one per server, shared by every tool call and session.

It binds a tool's arguments with the registry's parsers, runs the query against the Customer API,
and shapes the answer: Markdown ``content`` plus ``structuredContent``. Every
:class:`~dunetrace_cli.errors.DunetraceError` becomes a tool error carrying the CLI's sentence;
anything else a generic sentence (the traceback is logged on stderr, never sent to the client).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
from typing import Any

import httpx
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from dunetrace_cli import clock
from dunetrace_cli.client import ApiClient
from dunetrace_cli.config import Settings
from dunetrace_cli.errors import DunetraceError
from dunetrace_cli.mcp.errors import for_model
from dunetrace_cli.registry import Operation, bind_arguments, resolve
from dunetrace_cli.shared_reads import SharedReads

logger = logging.getLogger("dunetrace_cli.mcp")

INTERNAL_ERROR = (
    "dunetrace-cli hit an internal error while answering this call; nothing about the agent was learned. "
    "Retry once; if it persists, the server's log (stderr, more with --debug) has the details to report."
)


MAX_IN_FLIGHT = 16  # API requests in flight across every session of one server process
#: Seconds for which identical read-tool calls (same tool, same arguments) share one answer, and
#: identical API reads one request and one parse, across every session of the server (single flight
#: while one is being answered). Short: an answer is at most this much older than the API's data.
#: ``$DUNETRACE_MCP_SHARE_TTL`` sets it (seconds; 0 turns sharing off).
SHARE_TTL = 2.0
SHARE_TTL_ENV = "DUNETRACE_MCP_SHARE_TTL"


class Runner:
    """Runs the registry's queries for the MCP tools of one server.

    One long-lived :class:`ApiClient` serves every tool call of every session: one connection pool,
    one bound on the requests in flight (``max_in_flight``, across all sessions), and the process'
    route cache and agent-list memo (``ApiClient.memo``, a short TTL), and its shared reads
    (identical GETs within ``share_ttl`` seconds: one request, one parse). Each call gets a shallow
    copy of it, so per-call state (``request_count``, ``progress``) stays per call. The client is
    made on first use inside the serving event loop (and again if a new loop serves the server).

    Read tools called again with the same arguments within ``share_ttl`` seconds get the same
    answer (one query, one rendering); a write tool forgets every kept answer and read.
    """

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        share_ttl: float | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.max_in_flight = max_in_flight
        self.share_ttl = share_ttl_from_env() if share_ttl is None else share_ttl
        self.answers = SharedReads(self.share_ttl, max_entries=256) if self.share_ttl > 0 else None
        self._shared: ApiClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> ApiClient:
        loop = asyncio.get_running_loop()
        if self._shared is None or self._loop is not loop:
            self._shared = ApiClient(
                self.settings, transport=self.transport, clock=clock.now, max_concurrency=self.max_in_flight,
                shared_reads_ttl=self.share_ttl,
            )
            self._loop = loop
        view = copy.copy(self._shared)
        view.request_count = 0
        return view

    async def aclose(self) -> None:
        """Close the shared client (the HTTP transports call it at shutdown)."""
        if self._shared is not None and self._loop is asyncio.get_running_loop():
            await self._shared.aclose()
        self._shared = self._loop = None

    async def call(
        self, op: Operation, arguments: dict[str, Any], *, notes: list[str] | None = None, ctx: Any = None
    ) -> CallToolResult:
        answers = self.answers
        if answers is None or op.writes or op.offline:
            try:
                return await self._answer(op, arguments, notes=notes, ctx=ctx)
            finally:
                if op.writes and answers is not None:
                    answers.clear()  # what was answered before a write may have changed
        key = (op.name, json.dumps(arguments, sort_keys=True, default=str), tuple(notes or ()))
        result: CallToolResult = await answers.get(key, lambda: self._answer(op, arguments, notes=notes, ctx=ctx))
        return result.model_copy()  # the SDK may set fields on the result it sends; the kept one stays as made

    async def _answer(
        self, op: Operation, arguments: dict[str, Any], *, notes: list[str] | None = None, ctx: Any = None
    ) -> CallToolResult:
        try:
            now = clock.now()
            kwargs = bind_arguments(op, arguments, "mcp", now)
            query = resolve(op.query)
            if op.offline:
                result = query(**kwargs)
            else:
                if op.destructive:  # deletes and resolve ask first where the client can (mcp/confirm.py)
                    from dunetrace_cli.mcp.confirm import confirm_destructive

                    notes = [*(notes or []), *await confirm_destructive(ctx, op, arguments)]
                client = self.client()
                client.progress = _progress_to(ctx)
                result = await query(client, **kwargs)
                now = client.now()
            if notes and isinstance(getattr(result, "notes", None), list):
                result.notes = [*notes, *result.notes]
            text = resolve(op.markdown)(result, now=now, **op.markdown_kw) if op.markdown else ""
            view = resolve(op.mcp_view)(result) if op.mcp_view else result
            data = view.model_dump(mode="json", exclude_none=True)  # the outputSchema types keys without null
        except DunetraceError as exc:
            raise ToolError(for_model(exc)) from None
        except ToolError:
            raise  # already one sentence for the client (e.g. a declined confirmation)
        except Exception:
            logger.exception("unexpected error in an MCP tool")
            raise ToolError(INTERNAL_ERROR) from None
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)

    async def agent_ids(self) -> list[str]:
        from dunetrace_cli.queries.agents import list_agents

        result = await list_agents(self.client())
        return [a.agent_id for a in result.agents]


def share_ttl_from_env() -> float:
    """``$DUNETRACE_MCP_SHARE_TTL`` in seconds (0: every call asks the API), else :data:`SHARE_TTL`."""
    raw = os.environ.get(SHARE_TTL_ENV, "").strip()
    if not raw:
        return SHARE_TTL
    try:
        value = float(raw)
    except ValueError:
        logger.warning("%s=%r is not a number of seconds; using %g", SHARE_TTL_ENV, raw[:20], SHARE_TTL)
        return SHARE_TTL
    return min(max(value, 0.0), 60.0) if value == value else SHARE_TTL  # NaN: the default


def _progress_to(ctx: Any) -> Any:
    """client.progress -> an MCP progress notification (best effort; clients without a token get none)."""

    def send(text: str) -> None:
        if ctx is None:
            return
        try:
            task = asyncio.get_running_loop().create_task(ctx.report_progress(0, None, text))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        except Exception:  # never let progress break a tool call
            logger.debug("progress notification not sent", exc_info=True)

    return send


def runner_of(ctx: Any) -> Runner:
    """The runner of the server answering this request (set by ``build_server``)."""
    runner = getattr(ctx.mcp_server, "dunetrace_runner", None)
    if not isinstance(runner, Runner):
        raise ToolError(INTERNAL_ERROR)
    return runner
