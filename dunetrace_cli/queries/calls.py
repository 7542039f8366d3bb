"""Voice calls: a voice agent's conversations with call-level metrics (newer servers only)."""

from __future__ import annotations

from typing import Any

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import UsageError
from dunetrace_cli.models.calls import COMPLETION_STATUSES, COST_BUCKETS, CallDetail, CallList, CallSummary
from dunetrace_cli.queries._common import PAGE_MAX, feature_get, page_all, require_agent


def _choice(value: str | None, valid: tuple[str, ...], name: str) -> str | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if text not in valid:
        raise UsageError(f"invalid {name} '{value}'. Valid: {', '.join(valid)}.")
    return text


async def list_voice_calls(
    client: ApiClient,
    *,
    agent_id: str | None = None,
    completion_status: str | None = None,
    cost_bucket: str | None = None,
    limit: int = 20,
    offset: int | None = 0,
) -> CallList:
    """Recent calls, newest first: duration, how the call ended, silence, voice signals, cost.

    ``offset`` (MCP paging) is passed to the server's own paging (``/v1/calls?offset=``)."""
    if limit < 1:
        raise UsageError(f"invalid limit {limit}: it must be at least 1.")
    start = offset or 0
    status = _choice(completion_status, COMPLETION_STATUSES, "completion status")
    bucket = _choice(cost_bucket, COST_BUCKETS, "cost bucket")
    params: dict[str, Any] = {}
    if agent_id:
        params["agent_id"] = agent_id
    if status:
        params["completion_status"] = status
    if bucket:
        params["cost_bucket"] = bucket
    first = await feature_get(
        client, "calls", "voice calls", "/v1/calls", {**params, "limit": min(limit, PAGE_MAX), "offset": start}
    )
    if agent_id:
        await require_agent(client, agent_id)
    rows = list(first.get("calls") or [])
    total = int((first.get("page") or {}).get("total") or len(rows))
    if (first.get("page") or {}).get("has_more") and len(rows) < limit:
        rows, total = await page_all(client, "/v1/calls", "calls", params, max_rows=start + limit)
        rows = rows[start:]
    calls = [CallSummary.model_validate(row) for row in rows[:limit]]
    notes = ["the server aggregates only the 200 most recent calls."] if total >= 200 else []
    return CallList(
        agent_id=agent_id or None, completion_status=status, cost_bucket=bucket, calls=calls,
        total=max(total, start + len(calls)) if calls else total, limit=limit, offset=start, notes=notes,
    )


async def get_call_detail(client: ApiClient, *, conversation_id: int | str) -> CallDetail:
    """One call: metrics, per-stage cost, voice signals, timeline and recordings."""
    try:
        number = int(str(conversation_id).strip())
    except ValueError:
        raise UsageError(f"invalid call id '{conversation_id}': call ids are positive integers.") from None
    if number <= 0:
        raise UsageError(f"invalid call id '{conversation_id}': call ids are positive integers.")
    body = await feature_get(client, "calls", "voice calls", f"/v1/calls/{number}")
    return CallDetail.model_validate(body)
