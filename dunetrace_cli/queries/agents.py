"""Agents: the full list, every page; with ``health=True`` each agent's health score too."""

from __future__ import annotations

import asyncio

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import NotFound, UsageError
from dunetrace_cli.models.agents import AgentList, AgentSummary
from dunetrace_cli.queries._common import all_agents

HEALTH_CONCURRENCY = 4  # agents scored at once (each is one request, or several on servers without the route)


async def _score(client: ApiClient, agent: AgentSummary, gate: asyncio.Semaphore) -> int | None:
    from dunetrace_cli.queries.health import get_health

    async with gate:
        try:
            return (await get_health(client, agent_id=agent.agent_id)).score
        except (NotFound, UsageError):  # gone since the listing, or an id no route can carry
            return None


async def list_agents(client: ApiClient, *, health: bool = False, offset: int | None = 0) -> AgentList:
    """Every agent the API knows, newest activity first (no 100-agent cap).

    ``offset`` (MCP paging) is where the tool's page starts; the list itself is always whole.

    ``health=True`` adds each agent's health score (``health_score``), at most
    :data:`HEALTH_CONCURRENCY` agents at a time on top of the client's request bound.
    """
    agents = await all_agents(client)
    if health:
        gate = asyncio.Semaphore(HEALTH_CONCURRENCY)
        scores = await asyncio.gather(*(_score(client, a, gate) for a in agents))
        agents = [a.model_copy(update={"health_score": s}) for a, s in zip(agents, scores, strict=True)]
    return AgentList(agents=agents, total=len(agents), with_health=health, offset=offset or 0)
