"""Run prefixes over real HTTP on loopback: the requests each lookup makes, on both server generations,
and the sentence a miss ends in on each face (issue 12)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from dunetrace_cli.errors import AmbiguousId, NotFound
from dunetrace_cli.queries import get_run
from tests.queries._data import agent_ids, paths, runs

pytestmark = pytest.mark.anyio

DEEP = "synthetic-agent-0199"
MISSING = "ffffffff-0000"


def _scanned(fake) -> list[str]:
    return [p.split("/")[3] for p in paths(fake) if p.startswith("/v1/agents/") and p.endswith("/runs")]


def _total(fake) -> int:
    return sum(len(rows) for rows in fake.data["runs"].values())


async def _get_run(api_client, url: str, run_id: str):
    client = api_client(api_url=url)
    try:
        return await get_run(client, run_id=run_id), client.request_count
    finally:
        await client.aclose()


async def test_march_prefix_scans_newest_agents_first_8_in_flight_and_stops(served, api_client, monkeypatch) -> None:
    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.queries import run_ids

    # What the client sends (a request past the 8-request bound, in the order it goes out), and how much
    # of it had gone out when the scan saw its hit.
    sent: list[str] = []
    seen_at: list[int] = []
    send, add = ApiClient._send, run_ids._Scan.add

    async def recorded_send(self, method, path, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(path)
        return await send(self, method, path, *args, **kwargs)

    def recorded_add(self, rows):  # type: ignore[no-untyped-def]
        add(self, rows)
        if self.done and not seen_at:
            seen_at.append(len(sent))

    monkeypatch.setattr(ApiClient, "_send", recorded_send)
    monkeypatch.setattr(run_ids._Scan, "add", recorded_add)
    url, fake = served("march", extra_agents=300, latency=0.05)
    order = agent_ids(fake)
    full = runs(fake, DEEP)[0]["run_id"]
    rank = order.index(DEEP) + 1
    view, _ = await _get_run(api_client, url, full[:12])
    assert view.run.run_id == full and view.run.agent_id == DEEP and view.requested_id == full[:12]
    await asyncio.sleep(0.2)  # requests cancelled at the hit reach the fake's log once their latency is over
    scanned = _scanned(fake)
    assert len(scanned) == len(set(scanned))  # each agent once
    # newest activity first, stopped at the hit: once the scan has seen it, nothing more goes out but the
    # run itself. Which agents were in flight then depends on how the loaded machine orders the answers
    # (a fixed "rank + 8" held on a quiet machine only), so the bound is on what went out after the hit.
    assert seen_at and sent[seen_at[0]:] == [f"/v1/runs/{full}"]
    started = {p.split("/")[3] for p in sent[: seen_at[0]] if p.startswith("/v1/agents/") and p.endswith("/runs")}
    assert DEEP in scanned and set(scanned) <= started and len(scanned) >= rank - 8
    assert rank <= len(started) < len(order)  # stopped early: the hit is agent #211 of 306
    assert set(paths(fake)[:2]) == {f"/v1/runs/{full[:12]}", "/v1/runs"}  # the id and the org-wide probe together
    assert paths(fake).count("/v1/agents") == 1 and paths(fake).count(f"/v1/runs/{full}") == 1
    assert len(fake.requests) == 3 + len(scanned) + 1  # the id, the probe, the agent list, the scan, the run
    assert fake.max_in_flight == 8  # the loopback fake serves the client's 8 at once


async def test_march_no_match_reads_each_agent_once(served, api_client) -> None:
    url, fake = served("march", extra_agents=300)
    client = api_client(api_url=url)
    try:
        with pytest.raises(NotFound) as info:
            await get_run(client, run_id=MISSING)
    finally:
        await client.aclose()
    total_runs = _total(fake)
    assert info.value.message == (
        f"no run matches '{MISSING}' among {total_runs} processed runs of all agents. "
        "Runs appear once they finish; list them with `dunetrace runs AGENT`."
    )
    assert sorted(_scanned(fake)) == sorted(agent_ids(fake))  # 306 agents, one page each
    assert len(fake.requests) == client.request_count == 3 + 306  # the id, the /v1/runs probe, the agent list


async def test_latest_no_match_is_the_org_pages_once(served, api_client) -> None:
    url, fake = served("latest", extra_agents=300)
    client = api_client(api_url=url)
    try:
        with pytest.raises(NotFound, match=f"no run matches '{MISSING}' among 5304 processed runs"):
            await get_run(client, run_id=MISSING)
    finally:
        await client.aclose()
    assert len(fake.requests) == client.request_count == 1 + 11  # the id, then 11 pages of 500 runs


async def test_a_short_prefix_on_march_lists_every_match(served, api_client) -> None:
    url, fake = served("march", extra_agents=300)
    ids = sorted(r["run_id"] for rows in fake.data["runs"].values() for r in rows)
    counts = Counter(i[:n] for n in (6, 5, 4) for i in ids)
    prefix = next(p for p, c in sorted(counts.items(), key=lambda pc: -len(pc[0])) if 2 <= c <= 10)
    client = api_client(api_url=url)
    try:
        with pytest.raises(AmbiguousId) as info:
            await get_run(client, run_id=prefix)
    finally:
        await client.aclose()
    matches = [i for i in ids if i.startswith(prefix)]
    assert len(matches) >= 2
    assert info.value.message == (
        f"run prefix '{prefix}' matches {len(matches)} runs: {', '.join(matches)}. Give more characters."
    )
    assert len(fake.requests) == 3 + 306  # a short prefix proves itself unique or not: every agent read


def test_cli_no_match_names_the_command(served, invoke) -> None:
    url, fake = served("march", extra_agents=10)
    result = invoke(["run", MISSING], env={"DUNETRACE_API_URL": url})
    assert result.exit_code == 4 and result.stdout == ""
    assert f"no run matches 'ffffffff-0000' among {_total(fake)} processed runs of all agents" in result.stderr
    assert "list them with `dunetrace runs AGENT`." in result.stderr


async def test_mcp_no_match_names_the_tool(served) -> None:
    from mcp import Client

    from dunetrace_cli.mcp.server import build_server
    from tests.conftest import settings_for

    url, fake = served("march", extra_agents=10)
    async with Client(build_server(settings_for(url))) as c:  # real sockets to the loopback fake
        result = await c.call_tool("get_run_detail", {"run_id": MISSING})
    assert result.is_error
    text = result.content[0].text
    assert text.endswith(
        f"no run matches 'ffffffff-0000' among {_total(fake)} processed runs of all agents. "
        "Runs appear once they finish; list them with `get_agent_runs`."
    )
    assert "dunetrace runs" not in text
    assert len(fake.requests) == 3 + 16
