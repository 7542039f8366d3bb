"""One failure type across an agent's runs (GET /v1/agents/{id}/failure-patterns/{type}, newer servers only).

The route is case-sensitive and 422s on anything but the exact enum spelling, so the
type is upper-cased (``tool-loop``, ``tool_loop`` -> ``TOOL_LOOP``) before it is sent.
"""

from __future__ import annotations

import asyncio

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import UsageError
from dunetrace_cli.models.insights import Patterns
from dunetrace_cli.models.issues import FailurePatternDetail
from dunetrace_cli.queries._common import feature_get, normalize_failure_type, require_agent, seg
from dunetrace_cli.queries.patterns import get_patterns


async def get_failure_pattern_detail(client: ApiClient, *, agent_id: str, failure_type: str) -> FailurePatternDetail:
    """Evidence aggregates, where in the run it fires, a 14-day trend, co-occurring failures, top runs."""
    ftype = normalize_failure_type(failure_type)
    if not ftype:
        raise UsageError("a failure type is required, e.g. TOOL_LOOP.")
    path = f"/v1/agents/{seg(agent_id)}/failure-patterns/{seg(ftype)}"
    _, body = await asyncio.gather(
        require_agent(client, agent_id), feature_get(client, "failure_patterns", "failure-pattern", path)
    )
    return FailurePatternDetail.model_validate({**body, "agent_id": agent_id})


async def patterns_or_detail(
    client: ApiClient, *, agent_id: str, trend_days: int = 14, failure_type: str | None = None
) -> Patterns | FailurePatternDetail:
    """``dunetrace patterns AGENT`` (every type) or ``--type T`` (that type in depth)."""
    if failure_type:
        return await get_failure_pattern_detail(client, agent_id=agent_id, failure_type=failure_type)
    return await get_patterns(client, agent_id=agent_id, trend_days=trend_days)
