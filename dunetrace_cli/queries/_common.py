"""Helpers shared by the query functions: paging, validation, agent checks, time windows."""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import NotFound, UsageError
from dunetrace_cli.models.agents import AgentSummary
from dunetrace_cli.params import (  # noqa: F401 - re-exported for the query modules
    normalize_failure_type,
    normalize_severity,
    parse_since,
    since_hours,
)

PAGE_MAX = 500  # the server's PAGE_SIZE_MAX
RUN_DETAIL_CAP = 50  # run details fetched when a figure must be computed client-side


def round_half_up(value: float, digits: int = 3) -> float:
    """Round like PostgreSQL's ROUND(numeric) (0.3125 -> 0.313), for parity with the server."""
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def last_days(now: float, days: int) -> list[str]:
    today = datetime.fromtimestamp(now, tz=UTC).date()
    return [(today - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def seg(value: str) -> str:
    """Percent-encode an id as a single path segment; refuse ids that cannot be one."""
    from urllib.parse import quote

    if not value or len(value) > 256 or any(ord(c) < 32 for c in value):
        raise UsageError(f"invalid id '{value[:40]}': ids are 1-256 printable characters.")
    if value in (".", ".."):
        raise UsageError(f"invalid id '{value}'.")
    if "/" in value:  # the server decodes %2F before routing: such an id is never found (real-backend.md)
        raise NotFound(f"no agent or run '{value}': the Dunetrace API cannot address an id containing '/'.")
    return quote(value, safe="")


async def gather_all(*aws: Awaitable[Any]) -> list[Any]:
    """``asyncio.gather`` that cancels the others once one fails (``gather`` leaves them running:
    requests nobody reads, e.g. the data of an agent the agent list has just said is unknown).

    Raises the failure of the earliest awaitable, in argument order, among those that failed.
    """
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            error = task.exception() if task.done() and not task.cancelled() else None
            if error is not None:
                raise error
        return [t.result() for t in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def page_all(
    client: ApiClient,
    path: str,
    key: str,
    params: dict[str, Any] | None = None,
    *,
    page_size: int = PAGE_MAX,
    stop: Callable[[list[dict[str, Any]]], bool] | None = None,
    max_rows: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Fetch every page of a list endpoint. Returns (rows, server total).

    The first page gives the total; the pages after it are fetched concurrently (the client bounds
    the requests in flight). ``stop(page_rows)`` ends paging early (e.g. past a time cutoff), which
    needs the pages in order, so with ``stop`` they are fetched one after the other.
    ``max_rows`` caps the rows fetched.
    """
    first_size = page_size if max_rows is None else max(1, min(page_size, max_rows))
    batch, page = await _page(client, path, key, params, first_size, 0)
    rows = list(batch)
    total = int(page.get("total") or 0)
    if not batch or not page.get("has_more", False) or (stop is not None and stop(batch)):
        return rows, max(total, len(rows))
    wanted = total if max_rows is None else min(total, max_rows)
    if stop is None:
        step = len(batch)  # the server may cap the page size below what was asked
        offsets = range(len(batch), wanted, step)
        pages = await asyncio.gather(
            *(_page(client, path, key, params, step if max_rows is None else min(step, wanted - offset), offset)
              for offset in offsets)
        )
        for more, _ in pages:
            rows.extend(more)
        return rows, max(total, len(rows))
    offset = len(batch)
    while len(rows) < wanted:
        batch, page = await _page(client, path, key, params, min(page_size, wanted - len(rows)), offset)
        rows.extend(batch)
        offset += len(batch)
        if not batch or not page.get("has_more", False) or stop(batch):
            break
    return rows, max(total, len(rows))


async def _page(
    client: ApiClient, path: str, key: str, params: dict[str, Any] | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    body = await client.get(path, {**(params or {}), "limit": limit, "offset": offset})
    if not isinstance(body, dict):
        return [], {}
    return list(body.get(key) or []), dict(body.get("page") or {})


#: A first agent page older than this is fetched again before the other pages are added to it, so the
#: pages of one list are read close together (the list is ordered by activity, which moves agents).
FIRST_PAGE_FRESH_S = 2.0


async def _first_agents_page(client: ApiClient) -> tuple[float, list[AgentSummary], dict[str, Any]]:
    """(fetched at, agents, page) of GET /v1/agents's first page, shared like the whole list."""

    async def fetch() -> tuple[float, list[AgentSummary], dict[str, Any]]:
        return await _fetch_first_agents_page(client)

    first: tuple[float, list[AgentSummary], dict[str, Any]] = await client.memo("agents:first", fetch)
    return first


async def _fetch_first_agents_page(client: ApiClient) -> tuple[float, list[AgentSummary], dict[str, Any]]:
    rows, page = await _page(client, "/v1/agents", "agents", None, PAGE_MAX, 0)
    return time.monotonic(), [AgentSummary.model_validate(row) for row in rows], page


async def all_agents(client: ApiClient) -> list[AgentSummary]:
    """Every agent (all pages), shared by the whole process for a short while (``ApiClient.memo``).

    The first page is the one :func:`require_agent` reads first (fetched once for both); the other
    pages follow it concurrently.
    """

    async def fetch() -> list[AgentSummary]:
        fetched_at, agents, page = await _first_agents_page(client)
        if page.get("has_more") and agents and time.monotonic() - fetched_at > FIRST_PAGE_FRESH_S:
            fetched_at, agents, page = await _fetch_first_agents_page(client)
        total = int(page.get("total") or 0)
        if not agents or not page.get("has_more") or total <= len(agents):
            return agents
        step = len(agents)  # the server may cap the page size below what was asked
        pages = await asyncio.gather(
            *(_page(client, "/v1/agents", "agents", None, step, offset) for offset in range(step, total, step))
        )
        seen = {a.agent_id for a in agents}
        merged = list(agents)
        for rows, _ in pages:
            for row in rows:
                agent = AgentSummary.model_validate(row)
                if agent.agent_id not in seen:  # an agent that moved up a page while the pages were read
                    seen.add(agent.agent_id)
                    merged.append(agent)
        return merged

    agents: list[AgentSummary] = await client.memo("agents", fetch)
    return agents


def check_agent_id(agent_id: str) -> None:
    """Refuse a blank agent id before any request."""
    if not agent_id or not agent_id.strip():
        raise UsageError("an agent id is required (see `dunetrace agents`).")
    if "/" in agent_id:  # the server decodes %2F before routing, so no per-agent route can reach it
        raise NotFound(f"no agent '{agent_id}': the Dunetrace API cannot address an agent id containing '/'.")


async def agent_route(
    client: ApiClient, agent_id: str, feature: str, suffix: str, *, empty: Callable[[Any], bool]
) -> Any | None:
    """GET /v1/agents/{id}/{suffix} (a route newer servers have); the agent list only when ``empty(body)``.

    Returns None when the server lacks the route, so the caller computes the figure itself
    (and checks the agent when that data comes back empty).
    """
    check_agent_id(agent_id)
    body = await client.get_feature(feature, f"/v1/agents/{seg(agent_id)}/{suffix}")
    if body is not None and empty(body):
        await require_agent(client, agent_id)
    return body


async def require_agent(client: ApiClient, agent_id: str) -> AgentSummary:
    """The agent's summary, or NotFound with the known agents and a suggestion.

    Agent-scoped endpoints answer 200 with empty data for unknown agents, so this check is the
    only way to tell a typo from an idle agent. Queries call it when their data comes back
    empty (:func:`check_agent_if_empty`), or concurrently when the result shows the summary.
    """
    check_agent_id(agent_id)
    _, agents, page = await _first_agents_page(client)  # cached: returns or raises without waiting
    for agent in agents:
        if agent.agent_id == agent_id:
            return agent
    if page.get("has_more"):
        agents = await all_agents(client)
        for agent in agents:
            if agent.agent_id == agent_id:
                return agent
    raise NotFound(unknown_agent_message(agent_id, [a.agent_id for a in agents]))


async def check_agent_if_empty(client: ApiClient, agent_id: str, empty: bool) -> None:
    """An agent's data came back: when it is empty, tell an unknown agent (NotFound) from an idle one."""
    if empty:
        await require_agent(client, agent_id)


def unknown_agent_message(agent_id: str, names: list[str]) -> str:
    if not names:
        return f"no agent '{agent_id}': the API has no agents yet. Instrument one with the SDK (`dunetrace guide python`)."
    shown = ", ".join(names[:10]) + (f", … and {len(names) - 10} more" if len(names) > 10 else "")
    close = difflib.get_close_matches(agent_id, names, n=1, cutoff=0.75)
    if not close:
        lowered = [n for n in names if agent_id.lower() in n.lower()]
        close = lowered[:1]
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"no agent '{agent_id}' (known: {shown}{hint})."


def no_route(what: str) -> NotFound:
    """The sentence for a route this server generation lacks (the March 2026 server has none of the newer ones)."""
    return NotFound(
        f"this Dunetrace server has no {what} route (it predates that feature): upgrade the backend to use it."
    )


async def feature_get(client: ApiClient, feature: str, what: str, path: str, params: dict[str, Any] | None = None) -> Any:
    """GET a route newer servers have; a server without it is one sentence (``no_route``), never a traceback."""
    body = await client.get_feature(feature, path, params)
    if body is None:
        raise no_route(what)
    return body
