"""Agents: the full list, every page."""

from __future__ import annotations

from dunetrace_cli.client import ApiClient
from dunetrace_cli.models.agents import AgentList
from dunetrace_cli.queries._common import all_agents


async def list_agents(client: ApiClient) -> AgentList:
    """Every agent the API knows, newest activity first (no 100-agent cap)."""
    agents = await all_agents(client)
    return AgentList(agents=agents, total=len(agents))
