"""One read of an agent's whole run list and live signals, shared by the figures computed from them.

On a server without /health-score or insights' systemic_patterns (the March 2026 generation), both
the health score and the patterns are computed client-side from the same two lists; a query showing
both (``summary``) passes one :class:`AgentLists` to each, so each list is read once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from dunetrace_cli.client import ApiClient
from dunetrace_cli.queries._common import page_all, seg

Rows = tuple[list[dict[str, Any]], int]  # (rows, server total), as page_all returns them


class AgentLists:
    """The agent's runs and live (non-shadow) signals, each fetched on first use and then shared.

    ``signals`` may be a read the caller already has in flight (e.g. explained signals, capped):
    it is used when it holds every signal, else the whole list is read (unexplained: lighter).
    Call :meth:`aclose` when done, so a read nobody awaited any more does not keep running.
    """

    def __init__(self, client: ApiClient, agent_id: str, *, signals: Awaitable[Rows] | None = None) -> None:
        self._client = client
        self._path = f"/v1/agents/{seg(agent_id)}"
        self._seed = None if signals is None else asyncio.ensure_future(signals)
        self._runs: asyncio.Future[Rows] | None = None
        self._signals: asyncio.Future[Rows] | None = None

    async def runs(self) -> list[dict[str, Any]]:
        if self._runs is None:
            self._runs = asyncio.ensure_future(page_all(self._client, f"{self._path}/runs", "runs"))
        rows, _ = await asyncio.shield(self._runs)
        return rows

    async def signals(self) -> list[dict[str, Any]]:
        if self._signals is None:
            self._signals = asyncio.ensure_future(self._all_signals())
        rows, _ = await asyncio.shield(self._signals)
        return rows

    async def _all_signals(self) -> Rows:
        if self._seed is not None:
            rows, total = await asyncio.shield(self._seed)  # the caller's read: never cancelled from here
            if len(rows) >= total:
                return rows, total
        return await page_all(
            self._client, f"{self._path}/signals", "signals", {"include_shadow": False, "explain": False}
        )

    async def both(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(runs, signals), read concurrently."""
        runs, signals = await asyncio.gather(self.runs(), self.signals())
        return runs, signals

    async def aclose(self) -> None:
        """Cancel the reads this object started that are still out (the seed is its caller's)."""
        started = [f for f in (self._runs, self._signals) if f is not None and not f.done()]
        for future in started:
            future.cancel()
        await asyncio.gather(*started, return_exceptions=True)


@contextlib.asynccontextmanager
async def shared_or_own(client: ApiClient, agent_id: str, lists: AgentLists | None) -> AsyncIterator[AgentLists]:
    """``lists`` when a caller shares one (it closes it), else a fresh one closed on the way out."""
    if lists is not None:
        yield lists
        return
    own = AgentLists(client, agent_id)
    try:
        yield own
    finally:
        await own.aclose()
