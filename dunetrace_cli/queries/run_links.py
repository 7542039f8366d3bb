"""Parent and child runs (the SDK's ``parent_run_id``), for the run view.

The parent is named on the child's own events. Children are found the other way round: runs of any
agent that started while this run was open are fetched (at most ``RUN_DETAIL_CAP``) and kept when
their events name this run as parent. Nothing here fails the run view: a lookup error leaves the
links empty with a note.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import DunetraceError
from dunetrace_cli.models.runs import RunDetail, RunLink
from dunetrace_cli.queries._common import RUN_DETAIL_CAP, seg

START_SLACK_S = 1.0  # SDK clocks: a child may be stamped a moment before the parent's own start


async def _runs_around(client: ApiClient, oldest: float) -> list[dict[str, Any]]:
    """Runs of every agent, newest first, paged only back to ``oldest`` (started_at) where the server allows."""
    from dunetrace_cli.queries._common import all_agents, page_all

    def older(batch: list[dict[str, Any]]) -> bool:
        last = batch[-1].get("started_at") if batch else None
        return isinstance(last, (int, float)) and last < oldest

    if await client.has_route("org_runs", "/v1/runs"):
        rows, _ = await page_all(client, "/v1/runs", "runs", stop=older)
        return rows
    agents = await all_agents(client)
    per_agent = await asyncio.gather(
        *(page_all(client, f"/v1/agents/{seg(a.agent_id)}/runs", "runs", stop=older) for a in agents)
    )
    return [row for rows, _ in per_agent for row in rows]


def parent_of(detail: RunDetail) -> str | None:
    return next((e.parent_run_id for e in detail.events if e.parent_run_id and e.parent_run_id != detail.run_id), None)


def _link(row: dict[str, Any] | RunDetail) -> RunLink:
    data = row.model_dump() if isinstance(row, RunDetail) else row
    return RunLink.model_validate(data)


async def find_links(client: ApiClient, detail: RunDetail) -> tuple[RunLink | None, list[RunLink], list[str]]:
    """(parent, children, notes) of a run."""
    notes: list[str] = []
    parent_id = parent_of(detail)
    start, end = detail.started_at, detail.completed_at
    try:
        rows = await _runs_around(client, (start or 0.0) - 3600.0)
    except DunetraceError as exc:
        return (RunLink(run_id=parent_id) if parent_id else None), [], [f"parent/child runs not looked up: {exc.message}"]
    by_id = {str(r.get("run_id")): r for r in rows}
    parent = _link(by_id[parent_id]) if parent_id in by_id else (RunLink(run_id=parent_id) if parent_id else None)
    if start is None:
        return parent, [], notes
    stop = end if end is not None else start + 3600
    window = [
        r for r in rows
        if r.get("run_id") != detail.run_id and isinstance(r.get("started_at"), (int, float))
        and start - START_SLACK_S <= r["started_at"] <= stop
    ]
    window.sort(key=lambda r: r["started_at"])
    if len(window) > RUN_DETAIL_CAP:
        notes.append(f"child runs looked for among the first {RUN_DETAIL_CAP} of {len(window)} runs started during this run.")
        window = window[:RUN_DETAIL_CAP]

    async def child(row: dict[str, Any]) -> RunLink | None:
        try:
            body = await client.get(f"/v1/runs/{seg(str(row['run_id']))}", {"include_shadow": False})
        except DunetraceError:
            return None
        events = body.get("events") or [] if isinstance(body, dict) else []
        if any(isinstance(e, dict) and e.get("parent_run_id") == detail.run_id for e in events):
            return _link(row)
        return None

    found = await asyncio.gather(*(child(r) for r in window))
    return parent, [c for c in found if c is not None], notes
