"""`mcp serve` keeps one ApiClient for every tool call and session (issue 12)."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import settings_for
from tests.mcp.conftest import LC, text_of

pytestmark = pytest.mark.anyio


async def test_one_client_serves_every_call_and_session(fake_latest, monkeypatch) -> None:
    from mcp import Client

    from dunetrace_cli.mcp import runner as server_mod
    from dunetrace_cli.mcp.server import build_server

    made: list[object] = []
    closed: list[object] = []

    class Counting(server_mod.ApiClient):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

        async def aclose(self) -> None:
            closed.append(self)
            await super().aclose()

    monkeypatch.setattr(server_mod, "ApiClient", Counting)
    server = build_server(settings_for(), transport=fake_latest.transport())
    for _ in range(2):  # two sessions, one after the other
        async with Client(server) as client:
            results = await asyncio.gather(
                client.call_tool("summarize_agent", {"agent_id": LC}),
                client.call_tool("get_agent_health", {"agent_id": "rag-agent"}),
                client.call_tool("get_agent_runs", {"agent_id": "retry-agent", "limit": 3}),
            )
            assert not any(r.is_error for r in results), [text_of(r) for r in results]
    assert len(made) == 1 and closed == []  # shared, and a session's end does not close it
    assert made[0].settings.api_url == "http://fake.test"
    assert [p for _, p, _ in fake_latest.requests].count("/v1/agents") == 1  # the agent list, once
    await server.dunetrace_runner.aclose()
    assert closed == made


async def test_requests_in_flight_are_bounded_across_sessions(make_fake) -> None:
    from mcp import Client

    from dunetrace_cli.mcp.runner import MAX_IN_FLIGHT
    from dunetrace_cli.mcp.server import build_server

    fake = make_fake("march", extra_agents=100, latency=0.02)  # a per-agent fan-out: 107 requests
    server = build_server(settings_for(), transport=fake.transport())

    async def search() -> None:
        async with Client(server) as client:
            result = await client.call_tool("search_signals", {"severity": "HIGH"})
            assert not result.is_error, text_of(result)

    await asyncio.gather(search(), search(), search())
    assert fake.max_in_flight == MAX_IN_FLIGHT  # three sessions' fan-outs share one bound


async def test_identical_calls_share_one_answer_across_sessions(fake_latest) -> None:
    from mcp import Client

    from dunetrace_cli.mcp.server import build_server

    server = build_server(settings_for(), transport=fake_latest.transport(), allow_writes=True)

    async def ask(agent: str) -> str:
        async with Client(server) as client:
            result = await client.call_tool("get_agent_health", {"agent_id": agent})
            assert not result.is_error, text_of(result)
            return text_of(result)

    texts = await asyncio.gather(*(ask("rag-agent") for _ in range(5)))
    once = len(fake_latest.requests)
    assert once > 0 and len(set(texts)) == 1 and "rag-agent" in texts[0]
    await ask("rag-agent")  # within SHARE_TTL: the kept answer, no request
    assert len(fake_latest.requests) == once
    other = await ask(LC)  # other arguments: asked
    assert LC in other and len(fake_latest.requests) > once
    asked = len(fake_latest.requests)
    async with Client(server) as client:  # any write (here refused by the fake's LLM-less server) forgets
        await client.call_tool("trigger_explain", {"signal_id": 1})
    written = len(fake_latest.requests)
    assert written > asked
    await ask("rag-agent")
    assert len(fake_latest.requests) > written


async def test_sharing_off_asks_the_api_for_every_call(fake_latest, monkeypatch) -> None:
    from mcp import Client

    from dunetrace_cli.mcp.runner import SHARE_TTL_ENV
    from dunetrace_cli.mcp.server import build_server

    monkeypatch.setenv(SHARE_TTL_ENV, "0")
    server = build_server(settings_for(), transport=fake_latest.transport())
    assert server.dunetrace_runner.answers is None
    async with Client(server) as client:
        for _ in range(2):
            result = await client.call_tool("get_agent_runs", {"agent_id": "retry-agent", "limit": 3})
            assert not result.is_error, text_of(result)
    runs = [p for _, p, _ in fake_latest.requests if p == "/v1/agents/retry-agent/runs"]
    assert len(runs) == 2


@pytest.mark.parametrize(("raw", "seconds"), [("", 2.0), ("0", 0.0), ("0.5", 0.5), ("soon", 2.0), ("9999", 60.0)])
def test_share_ttl_from_the_environment(monkeypatch, raw: str, seconds: float) -> None:
    from dunetrace_cli.mcp.runner import SHARE_TTL_ENV, share_ttl_from_env

    monkeypatch.setenv(SHARE_TTL_ENV, raw)
    assert share_ttl_from_env() == seconds
