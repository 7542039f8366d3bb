"""Applied fixes and whether they worked (newer servers only)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import NotFound, UsageError
from dunetrace_cli.models.fixes import FixList, FixRecord, FixStatus
from dunetrace_cli.queries._common import feature_get, require_agent, seg

if TYPE_CHECKING:
    from dunetrace_cli.models.signals import SignalView


def signal_id_of(value: object) -> int:
    try:
        number = int(str(value).strip().lstrip("#"))
    except ValueError:
        raise UsageError(f"invalid signal id '{value}': signal ids are positive integers.") from None
    if number <= 0:
        raise UsageError(f"invalid signal id '{value}': signal ids are positive integers.")
    return number


async def list_agent_fixes(
    client: ApiClient, *, agent_id: str, limit: int | None = None, offset: int | None = 0
) -> FixList:
    """Every fix applied for an agent's signals (the server returns at most 100), with its verdict.

    The route does not page: a page (``offset``, ``limit``: MCP paging) is cut here; the CLI gets all.
    """
    path = f"/v1/agents/{seg(agent_id)}/fixes"
    _, body = await asyncio.gather(require_agent(client, agent_id), feature_get(client, "fixes", "fixes", path))
    fixes = [FixRecord.model_validate(row) for row in (body.get("fixes") or [])]
    notes = []
    if len(fixes) >= 100:
        notes.append("the server lists at most 100 fixes per agent; older ones are not shown.")
    start = offset or 0
    total = len(fixes)
    if limit is not None or start:
        fixes = fixes[start:] if limit is None else fixes[start:start + limit]
    return FixList(agent_id=agent_id, fixes=fixes, notes=notes, total=total, limit=limit, offset=start)


async def get_fix_status(client: ApiClient, *, signal_id: int | str, agent_id: str | None = None) -> FixStatus:
    """Whether a fix was applied for a signal and, if so, whether the failure recurred since."""
    number = signal_id_of(signal_id)
    body = await feature_get(client, "fix_status", "fix-status", f"/v1/signals/{number}/fix-status")
    return FixStatus.model_validate({**(body if isinstance(body, dict) else {}), "signal_id": number})


async def fix_status_or_none(client: ApiClient, signal_id: int) -> FixStatus | None:
    """The fix status when the server has the route (the signal view shows it), else None."""
    try:
        body = await client.get_feature("fix_status", f"/v1/signals/{signal_id}/fix-status")
    except NotFound:
        return None
    if not isinstance(body, dict):
        return None
    return FixStatus.model_validate({**body, "signal_id": signal_id})


async def get_signal_with_fix(client: ApiClient, *, signal_id: int, agent_id: str | None = None) -> SignalView:
    """``dunetrace signal ID`` / get_signal_detail: the signal, plus its fix status where the server has one."""
    from dunetrace_cli.queries.signals import get_signal

    number = signal_id_of(signal_id)
    view, status = await asyncio.gather(
        get_signal(client, signal_id=number, agent_id=agent_id), fix_status_or_none(client, number)
    )
    view.fix_status = status
    return view
