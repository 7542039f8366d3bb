"""What `dunetrace export` writes: an agent's runs, run details and signals since a cutoff.

Signals come from the server's ``/v1/agents/{id}/signals/export`` (NDJSON, keyset-paged by the
server) where it has the route, else from paging the signal list; either way each row has the
export's keys (customer-api.md §B.5), so files from old and new servers read the same. Runs are paged
newest first until the cutoff; details are fetched per run, concurrently (the client bounds it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from dunetrace_cli.client import ApiClient
from dunetrace_cli.models.common import iso
from dunetrace_cli.queries._common import page_all, require_agent, seg

EXPORT_KEYS = ("id", "failure_type", "severity", "run_id", "agent_id", "agent_version", "step_index",
               "confidence", "detected_at", "evidence")
DETAIL_BATCH = 16


def _run_time(row: dict[str, Any]) -> float | None:
    value = row.get("completed_at") or row.get("started_at")
    return float(value) if isinstance(value, (int, float)) else None


async def window_runs(client: ApiClient, agent_id: str, since: float | None) -> list[dict[str, Any]]:
    """The agent's runs newer than ``since`` (all of them without a cutoff), newest first, as the API gives them."""
    await require_agent(client, agent_id)

    def older(batch: list[dict[str, Any]]) -> bool:
        return since is not None and any((t := _run_time(r)) is not None and t < since for r in batch)

    rows, _ = await page_all(client, f"/v1/agents/{seg(agent_id)}/runs", "runs", stop=older)
    return [r for r in rows if since is None or (_run_time(r) or 0.0) >= since]


async def run_details(
    client: ApiClient, run_ids: list[str], on_done: Callable[[str, dict[str, Any]], None]
) -> None:
    """Fetch each run's detail and hand it to ``on_done`` in ``run_ids`` order, a batch at a time.

    A failed fetch still lets the rest of its batch through, then raises the first error."""
    for start in range(0, len(run_ids), DETAIL_BATCH):
        batch = run_ids[start : start + DETAIL_BATCH]
        bodies = await asyncio.gather(*(client.get(f"/v1/runs/{seg(rid)}") for rid in batch), return_exceptions=True)
        failure: BaseException | None = None
        for rid, body in zip(batch, bodies, strict=True):
            if isinstance(body, BaseException):
                failure = failure or body
            else:
                on_done(rid, body)  # what arrived is kept, so a resumed export does not fetch it again
        if failure is not None:
            raise failure


def export_row(signal: dict[str, Any]) -> dict[str, Any]:
    """A list row in the export's shape: its keys, ISO ``detected_at`` (ms, Z), confidence to 4 dp."""
    row = {k: signal.get(k) for k in EXPORT_KEYS}
    ts = signal.get("detected_at")
    if isinstance(ts, (int, float)):
        row["detected_at"] = datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    confidence = row.get("confidence")
    if isinstance(confidence, (int, float)):
        row["confidence"] = round(float(confidence), 4)
    return row


async def window_signals(client: ApiClient, agent_id: str, since: float | None) -> tuple[list[dict[str, Any]], str]:
    """(rows in the export shape, newest first; 'export' or 'list': where they came from)."""
    params: dict[str, Any] = {"format": "ndjson", "include_shadow": False}
    if since is not None:
        params["from"] = iso(since)
    if not client.feature_known_missing("signal_export"):
        from dunetrace_cli.client import RouteMissing

        try:
            text = await client.get_text(f"/v1/agents/{seg(agent_id)}/signals/export", params)
        except RouteMissing:
            client.remember_feature("signal_export", False)
        else:
            client.remember_feature("signal_export", True)
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            return rows, "export"
    found: list[dict[str, Any]] = []
    async for row in _list_signals(client, agent_id, since):
        found.append(export_row(row))
    return found, "list"


async def _list_signals(client: ApiClient, agent_id: str, since: float | None) -> AsyncIterator[dict[str, Any]]:
    def older(batch: list[dict[str, Any]]) -> bool:
        return since is not None and any(float(s.get("detected_at") or 0) < since for s in batch)

    rows, _ = await page_all(
        client, f"/v1/agents/{seg(agent_id)}/signals", "signals", {"include_shadow": False, "explain": False}, stop=older
    )
    for row in rows:
        if since is None or float(row.get("detected_at") or 0) >= since:
            yield row
