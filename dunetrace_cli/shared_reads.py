"""Reads shared by the calls of one long-lived client (``mcp serve``): identical GETs share one request.

A :class:`SharedReads` holds the parsed JSON bodies of successful GETs for ``ttl`` seconds, keyed by
path and query parameters, and lets concurrent identical GETs wait for the one request in flight
(single flight) instead of each making it: 50 sessions asking for the same page within the TTL cost
one request and one JSON parse. Errors are never kept (each caller of a failed flight gets the error,
the next call asks again); a write through the client forgets everything. At most ``max_entries``
bodies are kept (expired ones are dropped whenever one is asked for or kept, then the oldest).
A read in flight when the write is made is not joined by calls made after it.

A body handed out here may be handed to other calls too: the query layer treats API bodies as
read-only (it copies before it adjusts a row).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

Key = Hashable  # (path, sorted query params) for GET bodies; the MCP runner keys whole tool results


class SharedReads:
    def __init__(self, ttl: float, *, max_entries: int = 64, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._bodies: dict[Key, tuple[float, Any]] = {}
        self._flights: dict[Key, asyncio.Task[Any]] = {}
        self._generation = 0  # bumped by clear(): a flight that started before a write keeps nothing
        self.hits = 0  # answered from a kept body or another call's flight (no request of its own)

    @staticmethod
    def key(path: str, params: dict[str, str]) -> Key:
        return path, tuple(sorted(params.items()))

    async def get(self, key: Key, fetch: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """The body for ``key``: kept (younger than the TTL), the flight in progress, or ``fetch()``."""
        now = self._monotonic()
        self._drop_expired(now)
        kept = self._bodies.get(key)
        if kept is not None:
            self.hits += 1
            return kept[1]
        loop = asyncio.get_running_loop()
        flight = self._flights.get(key)
        if flight is None or flight.get_loop() is not loop:
            flight = loop.create_task(self._fly(key, fetch, self._generation))
            flight.add_done_callback(_retrieve)
            self._flights[key] = flight
        else:
            self.hits += 1
        # shielded: a caller that gives up (a scan cancelled after another one's hit) does not cancel
        # the request the other callers wait for
        return await asyncio.shield(flight)

    async def _fly(self, key: Key, fetch: Callable[[], Coroutine[Any, Any, Any]], generation: int) -> Any:
        try:
            body = await fetch()
        finally:
            if self._flights.get(key) is asyncio.current_task():
                del self._flights[key]
        if generation == self._generation:
            self._keep(key, body)
        return body

    def _keep(self, key: Key, body: Any) -> None:
        now = self._monotonic()
        self._bodies.pop(key, None)
        self._bodies[key] = (now, body)  # insertion order is age order: the oldest first
        self._drop_expired(now)
        while len(self._bodies) > self.max_entries:
            del self._bodies[next(iter(self._bodies))]

    def _drop_expired(self, now: float) -> None:
        """Expired bodies go as soon as anything is asked or kept (a burst's pages do not linger)."""
        while self._bodies:
            oldest = next(iter(self._bodies))
            if now - self._bodies[oldest][0] < self.ttl:
                break
            del self._bodies[oldest]

    def clear(self) -> None:
        """Forget every kept body and flight (after a write): a call made after it asks again. Flights
        in progress still answer the callers already waiting for them, and keep nothing."""
        self._bodies.clear()
        self._flights.clear()
        self._generation += 1

    def __len__(self) -> int:
        return len(self._bodies)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """A flight every caller gave up on: its error is nobody's (no "exception never retrieved")."""
    if not task.cancelled():
        task.exception()
