"""Helpers shared by the query functions: paging, validation, agent checks, time windows."""

from __future__ import annotations

import difflib
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

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
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")


def last_days(now: float, days: int) -> list[str]:
    today = datetime.fromtimestamp(now, tz=timezone.utc).date()
    return [(today - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def seg(value: str) -> str:
    """Percent-encode an id as a single path segment; refuse ids that cannot be one."""
    from urllib.parse import quote

    if not value or len(value) > 256 or any(ord(c) < 32 for c in value):
        raise UsageError(f"invalid id '{value[:40]}': ids are 1-256 printable characters.")
    if value in (".", ".."):
        raise UsageError(f"invalid id '{value}'.")
    return quote(value, safe="")


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

    ``stop(page_rows)`` ends paging early (e.g. past a time cutoff); ``max_rows`` caps the rows fetched.
    """
    rows: list[dict[str, Any]] = []
    offset = 0
    total = 0
    while True:
        size = page_size if max_rows is None else max(1, min(page_size, max_rows - len(rows)))
        body = await client.get(path, {**(params or {}), "limit": size, "offset": offset})
        batch = body.get(key) or [] if isinstance(body, dict) else []
        page = body.get("page") or {} if isinstance(body, dict) else {}
        total = int(page.get("total") or 0)
        rows.extend(batch)
        offset += len(batch)
        if not batch or not page.get("has_more", False):
            break
        if stop is not None and stop(batch):
            break
        if max_rows is not None and len(rows) >= max_rows:
            break
    return rows, max(total, len(rows))


async def all_agents(client: ApiClient) -> list[AgentSummary]:
    """Every agent (all pages), cached on the client for the rest of the invocation."""
    cached = client.cache.get("agents")
    if cached is None:
        rows, _ = await page_all(client, "/v1/agents", "agents")
        cached = [AgentSummary.model_validate(row) for row in rows]
        client.cache["agents"] = cached
    return cached


async def agent_route(client: ApiClient, agent_id: str, feature: str, suffix: str) -> Any | None:
    """GET /v1/agents/{id}/{suffix} (a route newer servers have) while checking the agent exists.

    Returns None when the server lacks the route, so the caller computes the figure itself.
    """
    import asyncio

    _, body = await asyncio.gather(
        require_agent(client, agent_id), client.get_feature(feature, f"/v1/agents/{seg(agent_id)}/{suffix}")
    )
    return body


async def require_agent(client: ApiClient, agent_id: str) -> AgentSummary:
    """The agent's summary, or NotFound with the known agents and a suggestion.

    Agent-scoped endpoints answer 200 with empty data for unknown agents, so this
    check is the only way to tell a typo from an idle agent.
    """
    if not agent_id or not agent_id.strip():
        raise UsageError("an agent id is required (see `dunetrace agents`).")
    agents = await all_agents(client)
    for agent in agents:
        if agent.agent_id == agent_id:
            return agent
    names = [a.agent_id for a in agents]
    raise NotFound(unknown_agent_message(agent_id, names))


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
