"""Read expected values straight from a FakeApi's data (the real captured datasets)."""

from __future__ import annotations

from typing import Any

from tests.fakeapi import FakeApi


def agent_ids(fake: FakeApi) -> list[str]:
    """Agent ids as the API lists them: newest activity first."""
    return [a["agent_id"] for a in sorted(fake.data["agents"], key=lambda a: -(a["last_seen"] or 0.0))]


def runs(fake: FakeApi, agent_id: str) -> list[dict[str, Any]]:
    return fake.data["runs"].get(agent_id, [])


def signals(fake: FakeApi, agent_id: str | None = None) -> list[dict[str, Any]]:
    """Live (non-shadow) signals of one agent or all, newest first."""
    if agent_id is None:
        rows = [s for ss in fake.data["signals"].values() for s in ss]
    else:
        rows = list(fake.data["signals"].get(agent_id, []))
    rows = [s for s in rows if not s.get("shadow")]
    return sorted(rows, key=lambda s: (s["detected_at"], s["id"]), reverse=True)


def run_ids_with(fake: FakeApi, failure_type: str) -> set[str]:
    return {s["run_id"] for s in signals(fake) if s["failure_type"] == failure_type}


def paths(fake: FakeApi) -> list[str]:
    return [path for _, path, _ in fake.requests]


def requests_to(fake: FakeApi, path: str) -> list[dict[str, str]]:
    """The query params of every request made to ``path``."""
    return [params for _, p, params in fake.requests if p == path]


def without_route(fake: FakeApi, suffix: str):
    """A transport to ``fake`` on which every route ending in ``suffix`` is missing (404 Not Found)."""
    import httpx

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(suffix):
            fake.requests.append((request.method, request.url.path, dict(request.url.params)))
            return httpx.Response(404, json={"detail": "Not Found"})
        return await fake.ahandle(request)

    return httpx.MockTransport(handler)


def rewriting(fake: FakeApi, suffix: str, rewrite):
    """A transport to ``fake`` that passes the JSON body of routes ending in ``suffix`` through ``rewrite``."""
    import httpx

    async def handler(request: httpx.Request) -> httpx.Response:
        response = await fake.ahandle(request)
        if request.url.path.endswith(suffix) and response.status_code == 200:
            return httpx.Response(200, json=rewrite(response.json()), request=request)
        return response

    return httpx.MockTransport(handler)
