"""list_agents and the unknown-agent check every agent-scoped query relies on."""

from __future__ import annotations

import pytest

from dunetrace_cli.errors import NotFound, UsageError
from dunetrace_cli.queries import get_health, list_agents, list_runs, search_signals
from dunetrace_cli.queries._common import require_agent
from tests.queries._data import agent_ids, requests_to

pytestmark = pytest.mark.anyio


async def test_list_agents(api_client, fake) -> None:
    result = await list_agents(api_client(fake))
    assert [a.agent_id for a in result.agents] == agent_ids(fake)
    assert result.total == len(fake.data["agents"]) == 6
    rag = next(a for a in result.agents if a.agent_id == "rag-agent")
    raw = next(a for a in fake.data["agents"] if a["agent_id"] == "rag-agent")
    assert (rag.run_count, rag.signal_count, rag.high_count, rag.critical_count) == (
        raw["run_count"], raw["signal_count"], raw["high_count"], raw["critical_count"],
    )
    assert rag.failure_types == raw["failure_types"]
    assert rag.last_seen == raw["last_seen"]


async def test_list_agents_pages_beyond_500_and_never_caps(api_client, make_fake) -> None:
    fake = make_fake("latest", extra_agents=520)
    result = await list_agents(api_client(fake))
    assert result.total == len(result.agents) == 526
    assert len({a.agent_id for a in result.agents}) == 526
    assert [a.agent_id for a in result.agents] == agent_ids(fake)
    assert requests_to(fake, "/v1/agents") == [{"limit": "500", "offset": "0"}, {"limit": "500", "offset": "500"}]


async def test_the_agent_list_is_fetched_once_per_client(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    await list_agents(client)
    await list_runs(client, agent_id="rag-agent", limit=1)
    await get_health(client, agent_id="clean-agent")
    assert len(requests_to(fake_latest, "/v1/agents")) == 1


@pytest.mark.parametrize(
    "query",
    [
        lambda c, a: get_health(c, agent_id=a),
        lambda c, a: list_runs(c, agent_id=a),
        lambda c, a: search_signals(c, agent_id=a),
    ],
    ids=["health", "runs", "signals"],
)
async def test_unknown_agent_is_not_found_with_known_list_and_suggestion(api_client, fake, query) -> None:
    with pytest.raises(NotFound) as info:
        await query(api_client(fake), "rag-agnet")
    known = ", ".join(agent_ids(fake))
    assert info.value.message == (
        f"no agent 'rag-agnet' (known: {known}; did you mean 'rag-agent'?)."
    )
    assert info.value.exit_code == 4


async def test_unknown_agent_suggests_by_substring(api_client, fake_latest) -> None:
    with pytest.raises(NotFound, match="did you mean 'support-agent-lc'"):
        await require_agent(api_client(fake_latest), "SUPPORT")


async def test_unknown_agent_without_a_close_name_has_no_suggestion(api_client, fake_latest) -> None:
    with pytest.raises(NotFound) as info:
        await require_agent(api_client(fake_latest), "zzzzzzzz")
    assert "did you mean" not in info.value.message


async def test_unknown_agent_among_many_lists_ten_and_counts_the_rest(api_client, make_fake) -> None:
    fake = make_fake("latest", extra_agents=20)
    with pytest.raises(NotFound) as info:
        await require_agent(api_client(fake), "nope")
    shown = ", ".join(agent_ids(fake)[:10])
    assert f"known: {shown}, … and 16 more" in info.value.message


async def test_unknown_agent_when_there_are_no_agents(api_client, make_fake, datasets) -> None:
    fake = make_fake("latest", dataset={**datasets["latest"], "agents": []})
    with pytest.raises(NotFound, match="the API has no agents yet"):
        await require_agent(api_client(fake), "rag-agent")


@pytest.mark.parametrize("agent", ["", "   "])
async def test_empty_agent_id_is_a_usage_error(api_client, fake_latest, agent: str) -> None:
    with pytest.raises(UsageError, match="an agent id is required"):
        await require_agent(api_client(fake_latest), agent)
    assert fake_latest.requests == []
