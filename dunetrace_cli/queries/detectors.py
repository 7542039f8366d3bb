"""Custom detectors: rules written in plain English, translated by the server (newer servers only)."""

from __future__ import annotations

import asyncio

from dunetrace_cli.client import ApiClient
from dunetrace_cli.models.detectors import CustomDetector, DetectorList
from dunetrace_cli.queries._common import feature_get, require_agent


async def list_custom_detectors(
    client: ApiClient, *, agent_id: str | None = None, limit: int | None = None, offset: int | None = 0
) -> DetectorList:
    """Every custom detector (or one agent's) with its status and shadow fire count.

    The route answers a bare array of every row: a page (``offset``, ``limit``: MCP paging) is cut
    here; the CLI gets every row.
    """
    params = {"agent_id": agent_id} if agent_id else None
    fetch = feature_get(client, "custom_detectors", "custom-detectors", "/v1/custom-detectors", params)
    if agent_id:
        _, body = await asyncio.gather(require_agent(client, agent_id), fetch)
    else:
        body = await fetch
    rows = body if isinstance(body, list) else (body.get("detectors") or [] if isinstance(body, dict) else [])
    start = offset or 0
    page = rows[start:] if limit is None else rows[start:start + limit]
    return DetectorList(agent_id=agent_id or None, detectors=[CustomDetector.model_validate(r) for r in page],
                        total=len(rows), limit=limit, offset=start)
