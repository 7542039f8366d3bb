"""Runtime policies the SDK enforces in the agent's process (newer servers only)."""

from __future__ import annotations

import asyncio

from dunetrace_cli.client import ApiClient
from dunetrace_cli.models.policies import Policy, PolicyList
from dunetrace_cli.queries._common import feature_get, require_agent


async def list_policies(
    client: ApiClient, *, agent_id: str | None = None, limit: int | None = None, offset: int | None = 0
) -> PolicyList:
    """Every policy, or those applying to one agent (its own and the '*' ones).

    The route answers a bare array of every row: a page (``offset``, ``limit``: MCP paging) is cut
    here; the CLI gets every row.
    """
    params = {"agent_id": agent_id} if agent_id else None
    fetch = feature_get(client, "policies", "policies", "/v1/policies", params)
    if agent_id:
        _, body = await asyncio.gather(require_agent(client, agent_id), fetch)
    else:
        body = await fetch
    rows = body if isinstance(body, list) else (body.get("policies") or [] if isinstance(body, dict) else [])
    start = offset or 0
    page = rows[start:] if limit is None else rows[start:start + limit]
    return PolicyList(agent_id=agent_id or None, policies=[Policy.model_validate(r) for r in page], total=len(rows),
                      limit=limit, offset=start)
