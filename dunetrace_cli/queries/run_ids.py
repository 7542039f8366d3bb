"""Run ids from unique prefixes (the 12-character ids shown in tables and alerts), in few round trips.

Where the runs are listed, fastest first:

1. the local store's ``GET /v1/runs?run_id_prefix=PFX`` (the server filters; detected once per
   process: a server that ignores the parameter answers the plain first page, which step 2 uses);
2. the latest servers' org-wide ``GET /v1/runs``: the first page gives the total, the other pages
   are fetched concurrently (the client bounds the requests in flight);
3. March-2026 servers (no ``/v1/runs``): every agent's runs, agents in the API's order (newest
   activity first), concurrently under the same bound.

A prefix of at least :data:`EARLY_STOP_PREFIX` characters ends the scan at its first match (11 hex
digits of a UUID: a second run sharing them is a one-in-10^13 event per run); a shorter prefix
reads every run, so an ambiguous one is reported with all its matches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import AmbiguousId, NotFound, UsageError
from dunetrace_cli.queries._common import (
    PAGE_MAX,
    all_agents,
    check_agent_id,
    check_agent_if_empty,
    page_all,
    seg,
)

MIN_PREFIX = 4
EARLY_STOP_PREFIX = 12
PREFIX_FILTER = "runs_prefix"  # feature key: the server honours ?run_id_prefix= on /v1/runs


class _Scan:
    """Matches found so far and the runs read; ``done`` once a long prefix has matched."""

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted
        self.early = len(wanted) >= EARLY_STOP_PREFIX
        self.matches: set[str] = set()
        self.scanned = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.scanned += len(rows)
        for row in rows:
            run_id = str(row.get("run_id", ""))
            if run_id.startswith(self.wanted):
                self.matches.add(run_id)

    @property
    def done(self) -> bool:
        return self.early and bool(self.matches)


async def _until_done(scan: _Scan, jobs: Sequence[Awaitable[list[dict[str, Any]]]]) -> None:
    """Run ``jobs`` (each yields rows) concurrently, in order of creation; cancel the rest once ``scan`` is done."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        for next_done in asyncio.as_completed(tasks):
            scan.add(await next_done)
            if scan.done:
                return
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _rows(client: ApiClient, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    body = await client.get(path, params)
    return list(body.get("runs") or []) if isinstance(body, dict) else []


async def _org_scan(client: ApiClient, scan: _Scan) -> bool:
    """Scan org-wide /v1/runs; False when the server predates it."""
    params: dict[str, Any] = {"limit": PAGE_MAX, "offset": 0}
    ask_filter = not client.feature_known_missing(PREFIX_FILTER)
    if ask_filter:
        params["run_id_prefix"] = scan.wanted
    first = await client.get_feature("org_runs", "/v1/runs", params)
    if first is None:
        return False
    rows = list(first.get("runs") or [])
    page = first.get("page") or {}
    if ask_filter and rows:
        honoured = all(str(r.get("run_id", "")).startswith(scan.wanted) for r in rows)
        client.remember_feature(PREFIX_FILTER, honoured)
        if not honoured:
            params.pop("run_id_prefix")
    scan.add(rows)
    total = int(page.get("total") or 0)
    if scan.done or not rows or not page.get("has_more"):
        return True
    step = len(rows)
    jobs = [_rows(client, "/v1/runs", {**params, "offset": offset}) for offset in range(step, total, step)]
    await _until_done(scan, jobs)
    return True


async def _agent_scan(client: ApiClient, scan: _Scan) -> None:
    """Every agent's runs, newest agents first, concurrently (March-2026 servers)."""

    async def runs_of(agent_id: str) -> list[dict[str, Any]]:
        rows, _ = await page_all(client, f"/v1/agents/{seg(agent_id)}/runs", "runs")
        return rows

    agents = await all_agents(client)
    await _until_done(scan, [runs_of(a.agent_id) for a in agents])


async def resolve_run_id(client: ApiClient, run_id: str, *, agent_id: str | None = None) -> str:
    """A full run id from a full id or any unique prefix (e.g. the 12-character ids in alerts)."""
    wanted = run_id.strip()
    if len(wanted) < MIN_PREFIX:
        raise UsageError(f"run id '{run_id}' is too short: give the full id or at least {MIN_PREFIX} characters.")
    scan = _Scan(wanted)
    if agent_id:
        check_agent_id(agent_id)
        rows, _ = await page_all(client, f"/v1/agents/{seg(agent_id)}/runs", "runs")
        await check_agent_if_empty(client, agent_id, not rows)
        scan.add(rows)
    elif not await _org_scan(client, scan):
        await _agent_scan(client, scan)
    matches = sorted(scan.matches)
    if len(matches) == 1:
        return matches[0]
    scope = f"agent '{agent_id}'" if agent_id else "all agents"
    if not matches:
        raise NotFound(
            f"no run matches '{run_id}' among {scan.scanned} processed runs of {scope}. "
            "Runs appear once they finish; list them with `dunetrace runs AGENT`."
        )
    shown = ", ".join(matches[:10]) + (f", … and {len(matches) - 10} more" if len(matches) > 10 else "")
    raise AmbiguousId(f"run prefix '{run_id}' matches {len(matches)} runs: {shown}. Give more characters.", matches)


def looks_full(run_id: str) -> bool:
    """A complete UUID: a prefix lookup could only find the id itself."""
    parts = run_id.split("-")
    return len(run_id) == 36 and [len(p) for p in parts] == [8, 4, 4, 4, 12]


async def fetch_run_body(client: ApiClient, run_id: str, *, agent_id: str | None = None) -> Any:
    """GET /v1/runs/{id}; when the id may be a prefix, its resolution runs alongside, in the same round trip."""
    path = f"/v1/runs/{seg(run_id)}"
    params = {"include_shadow": False}
    if looks_full(run_id) or len(run_id.strip()) < MIN_PREFIX:
        try:
            return await client.get(path, params)
        except NotFound:
            full = await resolve_run_id(client, run_id, agent_id=agent_id)
            if full == run_id:
                raise
            return await client.get(f"/v1/runs/{seg(full)}", params)
    direct = asyncio.ensure_future(client.get(path, params))
    resolving = asyncio.ensure_future(resolve_run_id(client, run_id, agent_id=agent_id))
    try:
        try:
            return await direct
        except NotFound as exc:
            missing = exc
        full = await resolving
        if full == run_id:
            raise missing
        return await client.get(f"/v1/runs/{seg(full)}", params)
    finally:
        for task in (direct, resolving):
            task.cancel()
        await asyncio.gather(direct, resolving, return_exceptions=True)
