"""Only the requests a result needs: the agent list only when data comes back empty, pages in
parallel after the first, one agent list per process (issue 12)."""

from __future__ import annotations

import pytest

from dunetrace_cli import client as client_mod
from dunetrace_cli.errors import NotFound
from dunetrace_cli.queries import get_health, get_patterns, list_agents, list_runs, summarize_agent
from tests.queries._data import agent_ids, paths, requests_to, rewriting

pytestmark = pytest.mark.anyio

LC = "langchain-example-agent"


async def test_patterns_of_a_known_agent_is_one_request(api_client, fake_latest) -> None:
    await get_patterns(api_client(fake_latest), agent_id=LC)
    assert paths(fake_latest) == [f"/v1/agents/{LC}/insights"]


async def test_health_of_a_known_agent_is_one_request(api_client, fake_latest) -> None:
    health = await get_health(api_client(fake_latest), agent_id="rag-agent")
    assert health.score == 22
    assert paths(fake_latest) == ["/v1/agents/rag-agent/health-score"]


@pytest.mark.parametrize("query", [get_patterns, get_health, list_runs])
async def test_empty_data_checks_the_agent_list(api_client, fake, query) -> None:
    with pytest.raises(NotFound, match="no agent 'ghost'"):
        await query(api_client(fake), agent_id="ghost")
    assert paths(fake)[-1] == "/v1/agents"  # after the agent's (empty) data, not before it


async def test_an_idle_agent_with_empty_data_is_not_an_error(api_client, fake_latest) -> None:
    result = await list_runs(api_client(fake_latest), agent_id="clean-agent", status="failing")
    assert result.total == 0
    assert paths(fake_latest) == ["/v1/agents/clean-agent/runs", "/v1/agents"]


def _loopback(served, api_client, generation: str = "latest", **kwargs):
    """A client over real HTTP to the fake on a loopback port, and the fake."""
    url, fake = served(generation, **kwargs)
    return api_client(api_url=url), fake


def _counts(fake, agent_id: str) -> tuple[int, int]:
    rows = fake.data["runs"].get(agent_id, [])
    return len(rows), sum(1 for r in rows if r["has_signals"])


async def test_summary_is_four_requests_in_one_wave(served, api_client) -> None:
    client, fake = _loopback(served, api_client, extra_agents=1494, latency=0.05)  # 1,500 agents: 3 pages
    try:
        result = await summarize_agent(client, agent_id=LC)
    finally:
        await client.aclose()
    assert result.agent.agent_id == LC
    assert (result.runs_total, result.failing_runs) == _counts(fake, LC) == (40, 16)
    assert sorted(paths(fake)) == ["/v1/agents", f"/v1/agents/{LC}/health-score", f"/v1/agents/{LC}/insights",
                                   f"/v1/agents/{LC}/signals"]
    assert requests_to(fake, "/v1/agents") == [{"limit": "500", "offset": "0"}]  # the agent is on the first page
    assert fake.max_in_flight == 4  # one wave
    assert client.request_count == 4


async def test_summary_warm_reuses_the_agent_page(served, api_client) -> None:
    client, fake = _loopback(served, api_client)
    try:
        await summarize_agent(client, agent_id=LC)
        fake.requests.clear()
        result = await summarize_agent(client, agent_id="retry-agent")
    finally:
        await client.aclose()
    assert (result.runs_total, result.failing_runs) == _counts(fake, "retry-agent")
    assert "/v1/agents" not in paths(fake) and len(fake.requests) == 3


async def test_summary_of_an_agent_past_the_first_page_reads_the_other_pages(served, api_client) -> None:
    client, fake = _loopback(served, api_client, extra_agents=1494)
    last = agent_ids(fake)[-1]  # the oldest activity: on the third page
    try:
        result = await summarize_agent(client, agent_id=last)
    finally:
        await client.aclose()
    assert result.agent.agent_id == last
    assert (result.runs_total, result.failing_runs) == _counts(fake, last)
    assert sorted(int(p["offset"]) for p in requests_to(fake, "/v1/agents")) == [0, 500, 1000]
    assert len(fake.requests) == 3 + 3


async def test_summary_asks_the_run_list_when_the_versions_are_not_all_there(api_client, make_fake) -> None:
    """More than 10 agent versions: insights lists 10, their runs do not add up, the counts come from /runs."""
    fake = make_fake("latest")

    def first_version_only(body):
        return {**body, "versions": body["versions"][:1]}  # langchain-example-agent has 2

    result = await summarize_agent(api_client(fake, transport=rewriting(fake, "/insights", first_version_only)),
                                   agent_id=LC)
    assert (result.runs_total, result.failing_runs) == _counts(fake, LC)
    assert requests_to(fake, f"/v1/agents/{LC}/runs") == [
        {"limit": "1", "offset": "0"}, {"limit": "1", "offset": "0", "has_signals": "true"},
    ]
    assert len(fake.requests) == 4 + 2


async def test_summary_of_an_unknown_agent_names_the_known_ones(served, api_client) -> None:
    client, fake = _loopback(served, api_client)
    try:
        with pytest.raises(NotFound, match=r"no agent 'langchain-agent' \(known: .*did you mean 'langchain-example-agent'"):
            await summarize_agent(client, agent_id="langchain-agent")
    finally:
        await client.aclose()
    assert client.request_count == 4  # one wave: the agent list and the 3 data requests
    assert paths(fake).count("/v1/agents") == 1 and len(fake.requests) <= 4  # the rest cancelled at "no agent"


async def test_list_pages_after_the_first_go_out_together(api_client, make_fake) -> None:
    fake = make_fake("latest", extra_agents=1494, latency=0.05)
    result = await list_agents(api_client(fake))
    assert [a.agent_id for a in result.agents] == agent_ids(fake)
    assert requests_to(fake, "/v1/agents") == [
        {"limit": "500", "offset": "0"}, {"limit": "500", "offset": "500"}, {"limit": "500", "offset": "1000"},
    ]
    assert fake.max_in_flight == 2


async def test_the_agent_list_is_shared_by_the_process_for_a_short_while(api_client, fake_latest, monkeypatch) -> None:
    await list_agents(api_client(fake_latest))
    await summarize_agent(api_client(fake_latest), agent_id=LC)  # another client, same API and key
    assert paths(fake_latest).count("/v1/agents") == 1
    await list_agents(api_client(fake_latest, api_key="dt_live_other"))  # another key: its own list
    assert paths(fake_latest).count("/v1/agents") == 2
    monkeypatch.setattr(client_mod._MEMO, "ttl", 0.0)  # expired
    await list_agents(api_client(fake_latest))
    assert paths(fake_latest).count("/v1/agents") == 3


async def test_concurrent_callers_share_one_agent_list_fetch(api_client, make_fake) -> None:
    import asyncio

    fake = make_fake("latest", latency=0.05)
    client = api_client(fake)
    await asyncio.gather(*(list_agents(client) for _ in range(5)))
    assert paths(fake) == ["/v1/agents"]


async def test_an_unknown_agent_costs_no_request_once_the_agent_list_is_known(api_client, make_fake) -> None:
    fake = make_fake("latest", latency=0.05)
    client = api_client(fake)
    await list_agents(client)
    with pytest.raises(NotFound, match="no agent 'ghost'"):
        await summarize_agent(client, agent_id="ghost")
    assert paths(fake) == ["/v1/agents"]


async def test_an_unknown_agent_cancels_the_data_requests_still_out(api_client, make_fake) -> None:
    import asyncio

    import httpx

    fake = make_fake("latest")

    async def slow_data(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/agents":
            await asyncio.sleep(0.3)  # the agent's data is slower than the agent list
        return await fake.ahandle(request)

    client = api_client(fake, transport=httpx.MockTransport(slow_data))
    with pytest.raises(NotFound, match="no agent 'ghost'"):
        await summarize_agent(client, agent_id="ghost")
    assert client.request_count == 4  # one wave: the list and the 3 data requests
    await asyncio.sleep(0.4)  # requests left running would have been answered (and logged) by now
    assert paths(fake) == ["/v1/agents"]


async def test_summary_on_march_reads_each_route_once(served, api_client) -> None:
    """March has no /health-score and no systemic_patterns: health and patterns are computed here, from one
    read of the run list and the signals the summary already fetches (they each read both before)."""
    client, fake = _loopback(served, api_client, "march")
    try:
        result = await summarize_agent(client, agent_id=LC)
    finally:
        await client.aclose()
    assert (result.health.source, result.runs_total, result.failing_runs) == ("client", *_counts(fake, LC))
    assert result.health.score is not None
    run_ids = [r["run_id"] for r in fake.data["runs"][LC]]
    details = sorted(f"/v1/runs/{rid}" for rid in run_ids)  # the token and latency averages (40 runs, cap 50)
    assert sorted(paths(fake)) == sorted(["/v1/agents", f"/v1/agents/{LC}/health-score", f"/v1/agents/{LC}/insights",
                                          f"/v1/agents/{LC}/signals", f"/v1/agents/{LC}/runs", *details])
    assert requests_to(fake, f"/v1/agents/{LC}/signals") == [{"include_shadow": "false", "limit": "500", "offset": "0"}]
    assert requests_to(fake, f"/v1/agents/{LC}/runs") == [{"limit": "500", "offset": "0"}]
    assert client.request_count == len(fake.requests) == 5 + 40


async def test_summary_on_march_reads_all_signals_when_its_own_read_is_capped(api_client, make_fake, monkeypatch) -> None:
    """The summary reads the newest SIGNAL_CAP signals; the computed health and patterns need them all."""
    from dunetrace_cli.queries import summary as summary_mod

    fake = make_fake("march")
    live = len([s for s in fake.data["signals"][LC] if not s.get("shadow")])
    monkeypatch.setattr(summary_mod, "SIGNAL_CAP", 5)
    capped = await summarize_agent(api_client(fake), agent_id=LC)
    assert requests_to(fake, f"/v1/agents/{LC}/signals") == [
        {"include_shadow": "false", "limit": "5", "offset": "0"},
        {"include_shadow": "false", "explain": "false", "limit": "500", "offset": "0"},
    ]
    assert capped.notes == [f"breakdown covers the newest 5 of {live} signals"]
    monkeypatch.setattr(summary_mod, "SIGNAL_CAP", 2000)
    full = await summarize_agent(api_client(make_fake("march")), agent_id=LC)
    assert capped.health == full.health and capped.runs_total == full.runs_total
