"""Signals: filtered search (one agent or all), and one signal by id."""

from __future__ import annotations

import asyncio
from typing import Any

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import NotFound, UsageError
from dunetrace_cli.models.signals import Signal, SignalSearch, SignalView
from dunetrace_cli.queries._common import (
    PAGE_MAX,
    all_agents,
    check_agent_id,
    check_agent_if_empty,
    normalize_failure_type,
    normalize_severity,
    seg,
)


async def _scan(
    client: ApiClient,
    path: str,
    params: dict[str, Any],
    *,
    cutoff: float | None,
    want: int,
) -> tuple[list[Signal], int, bool]:
    """Page a newest-first signal list. Returns (matches, total matched, complete).

    Without a cutoff the server's page.total is the exact match count, so we stop once
    ``want`` rows are in hand. With a cutoff we page until a row is older than it.
    """
    rows: list[Signal] = []
    offset = 0
    total = 0
    size = min(PAGE_MAX, max(want, 1)) if cutoff is None else PAGE_MAX
    while True:
        body = await client.get(path, {**params, "limit": size, "offset": offset})
        batch = [Signal.model_validate(r) for r in (body.get("signals") or [])]
        page = body.get("page") or {}
        offset += len(batch)
        if cutoff is None:
            total = int(page.get("total") or 0)
            rows.extend(batch)
            if not batch or not page.get("has_more") or len(rows) >= want:
                return rows, max(total, len(rows)), True
        else:
            inside = [s for s in batch if s.detected_at is None or s.detected_at >= cutoff]
            rows.extend(inside)
            if not batch or not page.get("has_more") or len(inside) < len(batch):
                return rows, len(rows), True
            # newest first: nothing older than the cutoff yet, keep paging


async def search_signals(
    client: ApiClient,
    *,
    agent_id: str | None = None,
    severity: str | None = None,
    failure_type: str | None = None,
    since: float | None = None,
    limit: int = 20,
    offset: int | None = 0,
) -> SignalSearch:
    """Signals matching the filters, newest first, from one agent or across every agent.

    Filters are sent to the server (so paging is exact); without an agent the org-wide
    /v1/signals is used when the server has it, else every agent is scanned concurrently.
    ``offset`` (MCP paging) skips that many matches of the same ordering: the first
    ``offset + limit`` are fetched and sliced, so page after page is the unpaged list cut in pieces.
    """
    if limit < 1:
        raise UsageError(f"invalid --limit {limit}: it must be at least 1.")
    offset = offset or 0
    want = offset + limit
    sev = normalize_severity(severity)
    ftype = normalize_failure_type(failure_type)
    params: dict[str, Any] = {"include_shadow": False, "explain": True}
    if sev:
        params["severity"] = sev
    if ftype:
        params["failure_type"] = ftype

    if agent_id:
        check_agent_id(agent_id)
        rows, total, complete = await _scan(
            client, f"/v1/agents/{seg(agent_id)}/signals", params, cutoff=since, want=want
        )
        await check_agent_if_empty(client, agent_id, not rows and total == 0)
        agents_scanned = 1
    else:
        org = await _org_scan(client, params, cutoff=since, want=want)
        if org is not None:
            rows, total, complete = org
            agents_scanned = None  # one org-wide stream: every agent
        else:
            agents = await all_agents(client)
            results = await asyncio.gather(
                *(
                    _scan(client, f"/v1/agents/{seg(a.agent_id)}/signals", params, cutoff=since, want=want)
                    for a in agents
                )
            )
            rows = [s for found, _, _ in results for s in found]
            total = sum(t for _, t, _ in results)
            complete = all(c for _, _, c in results)
            agents_scanned = len(agents)
    rows.sort(key=lambda s: (s.detected_at or 0.0, s.id), reverse=True)
    return SignalSearch(
        signals=rows[offset:want],
        total_matched=total,
        complete=complete,
        agent_id=agent_id,
        severity=sev,
        failure_type=ftype,
        since=since,
        agents_scanned=agents_scanned,
        limit=limit,
        offset=offset,
    )


async def _org_scan(
    client: ApiClient, params: dict[str, Any], *, cutoff: float | None, want: int
) -> tuple[list[Signal], int, bool] | None:
    """Scan org-wide /v1/signals; None when the server predates it."""
    if not await client.has_route("org_signals", "/v1/signals"):
        return None
    return await _scan(client, "/v1/signals", params, cutoff=cutoff, want=want)


async def get_signal(client: ApiClient, *, signal_id: int, agent_id: str | None = None) -> SignalView:
    """One signal by id. There is no single-signal endpoint, so lists are scanned.

    With an agent: page that agent's signals. Without: org-wide /v1/signals when present,
    else every agent concurrently, stopping at the first hit. The first page (the newest
    signals, where most lookups end) comes explained; deeper pages are scanned without the
    server's explanations (``explain=false``) and the hit is fetched again, explained.
    """
    if signal_id < 1:
        raise UsageError(f"invalid signal id {signal_id}: ids are positive integers.")
    params = {"include_shadow": True}
    found: Signal | None = None
    scanned = 0
    if agent_id:
        check_agent_id(agent_id)
        found, scanned = await _find(client, f"/v1/agents/{seg(agent_id)}/signals", params, signal_id)
        await check_agent_if_empty(client, agent_id, found is None and scanned == 0)
        scope = f"agent '{agent_id}'"
    else:
        scope = "all agents"
        if await client.has_route("org_signals", "/v1/signals"):
            found, scanned = await _find(client, "/v1/signals", params, signal_id)
        else:
            found, scanned = await _find_across_agents(client, params, signal_id)
    if found is None:
        raise NotFound(
            f"no signal {signal_id} among {scanned} signals of {scope}. "
            "List recent ones with `dunetrace signals`."
        )
    return SignalView(signal=found, detector=_detector_info(found.failure_type))


EXPLAINED_FIRST_PAGE = 50  # the server explains every row it returns: only the first, short page asks for it


async def _find(
    client: ApiClient, path: str, params: dict[str, Any], signal_id: int, stop: asyncio.Event | None = None
) -> tuple[Signal | None, int]:
    offset = 0
    # a server without org-wide /v1/signals predates `explain` (it explains every row): full pages there
    first = PAGE_MAX if client.feature_known_missing("org_signals") else EXPLAINED_FIRST_PAGE
    while stop is None or not stop.is_set():
        explain = offset == 0
        size = first if explain else PAGE_MAX
        body = await client.get(path, {**params, "explain": explain, "limit": size, "offset": offset})
        batch = body.get("signals") or []
        for index, row in enumerate(batch):
            if row.get("id") == signal_id:
                if not explain and not _explained(row):
                    row = await _explained_row(client, path, params, row, offset + index)
                return Signal.model_validate(row), offset + len(batch)
        offset += len(batch)
        if not batch or not (body.get("page") or {}).get("has_more"):
            break
    return None, offset


def _explained(row: dict[str, Any]) -> bool:
    """Whether the server filled the explanation anyway (servers before ``explain`` always do)."""
    return bool(row.get("what") or row.get("why_it_matters") or row.get("suggested_fixes"))


async def _explained_row(
    client: ApiClient, path: str, params: dict[str, Any], row: dict[str, Any], position: int
) -> dict[str, Any]:
    """The hit at ``position`` again, explained; if newer signals moved it, the rows around it."""
    for offset, size in ((position, 1), (max(0, position - PAGE_MAX // 2), PAGE_MAX)):
        body = await client.get(path, {**params, "explain": True, "limit": size, "offset": offset})
        for candidate in body.get("signals") or []:
            if candidate.get("id") == row.get("id"):
                return dict(candidate)
    return row  # moved out of reach: the unexplained row still carries the facts


async def _find_across_agents(
    client: ApiClient, params: dict[str, Any], signal_id: int
) -> tuple[Signal | None, int]:
    agents = await all_agents(client)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(_find(client, f"/v1/agents/{seg(a.agent_id)}/signals", params, signal_id, stop))
        for a in agents
    ]
    scanned = 0
    try:
        for next_done in asyncio.as_completed(tasks):
            found, count = await next_done
            scanned += count
            if found is not None:
                stop.set()
                return found, scanned
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return None, scanned


def _detector_info(failure_type: str) -> dict[str, Any] | None:
    try:
        from dunetrace_cli.knowledge.detectors import describe
    except ImportError:  # pragma: no cover - shipped with the package
        return None
    info = describe(failure_type)
    return None if info is None else info.model_dump(mode="json")
