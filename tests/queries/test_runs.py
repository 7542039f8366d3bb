"""Runs: lists, prefix resolution on both generations, paired run view, comparison."""

from __future__ import annotations

from collections import Counter

import pytest

from dunetrace_cli.errors import AmbiguousId, NotFound, UsageError
from dunetrace_cli.models import RunDetail
from dunetrace_cli.queries import compare_runs, get_run, list_runs, resolve_run_id
from dunetrace_cli.queries.runs import analyse_run
from tests.queries._data import agent_ids, paths, requests_to, run_ids_with, runs

pytestmark = pytest.mark.anyio


# ---------------------------------------------------------------- list_runs


async def test_list_runs_newest_first(api_client, fake) -> None:
    result = await list_runs(api_client(fake), agent_id="langchain-example-agent", limit=30)
    expected = runs(fake, "langchain-example-agent")
    assert [r.run_id for r in result.runs] == [r["run_id"] for r in expected[:30]]
    assert (result.total, result.limit, result.more, result.filter) == (40, 30, 10, "all")
    first = result.runs[0]
    assert first.started_at == expected[0]["started_at"]
    assert first.duration_s == round(expected[0]["completed_at"] - expected[0]["started_at"], 3)


@pytest.mark.parametrize(("status", "has_signals"), [("failing", True), ("clean", False)])
async def test_list_runs_filters_on_the_server(api_client, fake, status: str, has_signals: bool) -> None:
    result = await list_runs(api_client(fake), agent_id="support-agent-lc", limit=100, status=status)
    expected = [r["run_id"] for r in runs(fake, "support-agent-lc") if r["has_signals"] is has_signals]
    assert [r.run_id for r in result.runs] == expected
    assert result.total == len(expected)
    assert all(r.has_signals is has_signals for r in result.runs)
    params = requests_to(fake, "/v1/agents/support-agent-lc/runs")
    assert params == [{"has_signals": str(has_signals).lower(), "limit": "100", "offset": "0"}]


async def test_clean_agent_has_no_failing_runs(api_client, fake) -> None:
    result = await list_runs(api_client(fake), agent_id="clean-agent", status="failing")
    assert result.runs == [] and result.total == 0 and result.more == 0


async def test_list_runs_rejects_a_bad_limit(api_client, fake_latest) -> None:
    with pytest.raises(UsageError, match="--limit 0"):
        await list_runs(api_client(fake_latest), agent_id="rag-agent", limit=0)


async def test_list_runs_totals_on_the_march_server_lack_tokens(api_client, fake_march) -> None:
    result = await list_runs(api_client(fake_march), agent_id="rag-agent", limit=5)
    assert all(r.total_tokens is None and r.cost_usd is None for r in result.runs)


# ---------------------------------------------------------------- run id resolution


def _a_run(fake, agent: str = "rag-agent") -> str:
    return runs(fake, agent)[0]["run_id"]


async def test_resolve_a_12_character_prefix_via_org_runs_on_latest(api_client, fake_latest) -> None:
    full = _a_run(fake_latest)
    assert await resolve_run_id(api_client(fake_latest), full[:12]) == full
    assert paths(fake_latest) == ["/v1/runs"]  # one org-wide page, no per-agent scan


async def test_resolve_a_prefix_by_agent_fan_out_on_march(api_client, fake_march) -> None:
    full = _a_run(fake_march)
    assert await resolve_run_id(api_client(fake_march), full[:12]) == full
    assert paths(fake_march).count("/v1/runs") == 1  # probed once, 404 on the route
    per_agent = sorted(p for p in paths(fake_march) if p.endswith("/runs") and p.startswith("/v1/agents/"))
    assert per_agent == sorted(f"/v1/agents/{a}/runs" for a in agent_ids(fake_march))


async def test_resolve_a_prefix_within_one_agent(api_client, fake) -> None:
    full = _a_run(fake, "clean-agent")
    assert await resolve_run_id(api_client(fake), full[:8], agent_id="clean-agent") == full
    assert "/v1/runs" not in paths(fake)
    assert [p for p in paths(fake) if p.endswith("/runs")] == ["/v1/agents/clean-agent/runs"]


async def test_a_prefix_of_another_agents_run_is_not_found_within_an_agent(api_client, fake_latest) -> None:
    other = _a_run(fake_latest, "rag-agent")
    with pytest.raises(NotFound, match=f"no run matches '{other[:12]}' among 12 processed runs of agent 'clean-agent'"):
        await resolve_run_id(api_client(fake_latest), other[:12], agent_id="clean-agent")


@pytest.mark.parametrize("generation", ["latest", "march"])
async def test_an_ambiguous_prefix_lists_the_candidates(api_client, make_fake, generation: str) -> None:
    fake = make_fake(generation, extra_agents=3)  # 208 run ids: some share their first 4 characters
    all_ids = [r["run_id"] for rows in fake.data["runs"].values() for r in rows]
    shared = [p for p, n in Counter(i[:4] for i in all_ids).items() if n > 1]
    assert shared, "the synthetic run ids no longer share a 4-character prefix"
    prefix = shared[0]
    with pytest.raises(AmbiguousId) as info:
        await resolve_run_id(api_client(fake), prefix)
    expected = sorted(i for i in all_ids if i.startswith(prefix))
    assert info.value.candidates == expected
    assert info.value.exit_code == 2
    assert info.value.message.startswith(f"run prefix '{prefix}' matches {len(expected)} runs: {', '.join(expected)}")


async def test_no_match_is_not_found(api_client, fake) -> None:
    with pytest.raises(NotFound) as info:
        await resolve_run_id(api_client(fake), "ffffffff-ffff")
    assert info.value.message.startswith("no run matches 'ffffffff-ffff' among 104 processed runs of all agents.")


async def test_too_short_a_prefix_is_a_usage_error(api_client, fake_latest) -> None:
    with pytest.raises(UsageError, match="too short"):
        await resolve_run_id(api_client(fake_latest), "67c")
    assert fake_latest.requests == []


# ---------------------------------------------------------------- get_run


async def test_get_run_by_full_id_is_one_request(api_client, fake) -> None:
    full = _a_run(fake)
    view = await get_run(api_client(fake), run_id=full)
    assert view.run.run_id == full and view.requested_id == full
    assert paths(fake) == [f"/v1/runs/{full}"]


async def test_get_run_by_prefix(api_client, fake) -> None:
    full = _a_run(fake)
    view = await get_run(api_client(fake), run_id=full[:12])
    assert view.run.run_id == full
    assert view.requested_id == full[:12]
    assert paths(fake)[0] == f"/v1/runs/{full[:12]}"  # tried as an id first (404), then resolved
    assert paths(fake)[-1] == f"/v1/runs/{full}"


async def test_get_run_unknown_id_is_not_found(api_client, fake) -> None:
    with pytest.raises(NotFound, match="no run matches"):
        await get_run(api_client(fake), run_id="00000000-0000-4000-8000-000000000000")


def _complete_runs(fake) -> list[RunDetail]:
    out = []
    for detail in fake.data["run_details"].values():
        kinds = Counter(e["event_type"] for e in detail["events"])
        if kinds["tool.called"] == kinds["tool.responded"] and kinds["llm.called"] == kinds["llm.responded"]:
            out.append(RunDetail.model_validate(detail))
    return out


def test_every_answered_call_is_paired(fake) -> None:
    complete = _complete_runs(fake)
    assert len(complete) == 102  # 2 of 104 runs errored before a response arrived
    tools = llms = failed = 0
    for detail in complete:
        view = analyse_run(detail, requested_id=detail.run_id)
        for call in view.tool_calls:
            assert call.success is not None and call.latency_ms is not None, (detail.run_id, call)
            assert call.tool_name != "?"
        for call in view.llm_calls:
            assert call.responded
            assert None not in (call.prompt_tokens, call.completion_tokens, call.latency_ms), (detail.run_id, call)
        tools += len(view.tool_calls)
        llms += len(view.llm_calls)
        failed += sum(1 for c in view.tool_calls if c.success is False)
    responded = [e for d in fake.data["run_details"].values() for e in d["events"] if e["event_type"] == "tool.responded"]
    assert failed == sum(1 for e in responded if e["payload"].get("success") is False) == 57
    events = Counter(e.event_type for d in complete for e in d.events)
    assert (tools, llms) == (events["tool.called"], events["llm.called"]) == (241, 376)


async def test_paired_values_come_from_the_response_events(api_client, fake_latest) -> None:
    run_id = sorted(run_ids_with(fake_latest, "CONTEXT_BLOAT"))[0]
    detail = fake_latest.data["run_details"][run_id]
    view = await get_run(api_client(fake_latest), run_id=run_id)
    responded = [e["payload"] for e in detail["events"] if e["event_type"] == "tool.responded"]
    assert [c.latency_ms for c in view.tool_calls] == [p["latency_ms"] for p in responded]
    assert [c.success for c in view.tool_calls] == [p["success"] for p in responded]
    answers = [e["payload"] for e in detail["events"] if e["event_type"] == "llm.responded"]
    assert [c.completion_tokens for c in view.llm_calls] == [p["completion_tokens"] for p in answers]
    assert [c.latency_ms for c in view.llm_calls] == [p["latency_ms"] for p in answers]
    assert view.prompt_tokens == sum(c.prompt_tokens for c in view.llm_calls)
    assert view.completion_tokens == sum(p["completion_tokens"] for p in answers)
    (done,) = [e["payload"] for e in detail["events"] if e["event_type"] == "run.completed"]
    assert view.sdk_exit_reason == done["exit_reason"]


async def test_a_call_without_response_stays_unanswered(api_client, fake) -> None:
    errored = [
        d for d in fake.data["run_details"].values()
        if d["exit_reason"] == "run.errored" and [e["event_type"] for e in d["events"]][-2] == "tool.called"
    ]
    detail = errored[0]
    view = await get_run(api_client(fake), run_id=detail["run_id"])
    (call,) = view.tool_calls
    assert (call.success, call.latency_ms) == (None, None)
    last = detail["events"][-1]["payload"]
    assert view.error == last.get("error") or last.get("error_type")
    assert view.sdk_exit_reason == "error"


async def test_context_growth_is_flagged_on_every_context_bloat_run(api_client, fake) -> None:
    bloated = run_ids_with(fake, "CONTEXT_BLOAT")
    assert bloated
    for run_id in bloated:
        view = analyse_run(RunDetail.model_validate(fake.data["run_details"][run_id]), requested_id=run_id)
        growth = view.context_growth
        assert growth is not None and growth.flagged, run_id
        assert growth.growth_factor >= 3 and growth.llm_call_count >= 3
        assert growth.sequence == [c.prompt_tokens for c in view.llm_calls]
    if fake.generation == "latest":  # the latest detectors flag exactly these runs
        flagged = set()
        for run_id, detail in fake.data["run_details"].items():
            growth = analyse_run(RunDetail.model_validate(detail), requested_id=run_id).context_growth
            if growth is not None and growth.flagged:
                flagged.add(run_id)
        assert flagged == bloated
    one = sorted(bloated)[0]
    view = await get_run(api_client(fake), run_id=one[:12])
    assert view.context_growth is not None and view.context_growth.flagged


async def test_clean_runs_are_not_flagged(api_client, fake) -> None:
    for row in runs(fake, "clean-agent"):
        view = analyse_run(RunDetail.model_validate(fake.data["run_details"][row["run_id"]]), requested_id=row["run_id"])
        assert view.context_growth is None or not view.context_growth.flagged
        assert view.run.signals == []


# ---------------------------------------------------------------- compare_runs


async def test_compare_runs(api_client, fake_latest) -> None:
    clean = runs(fake_latest, "clean-agent")[0]
    bloated = sorted(run_ids_with(fake_latest, "CONTEXT_BLOAT"))[0]
    result = await compare_runs(api_client(fake_latest), run_id_1=clean["run_id"][:12], run_id_2=bloated[:12])
    assert result.left.run_id == clean["run_id"] and result.right.run_id == bloated
    assert result.left.signal_types == []
    right_types = sorted({s["failure_type"] for s in fake_latest.data["run_details"][bloated]["signals"]})
    assert result.right.signal_types == right_types
    assert result.left.total_tokens == clean["total_tokens"]
    assert f"only run 2 has: {', '.join(right_types)}" in result.differences
    assert any(d.startswith("steps: ") for d in result.differences)


# ---------------------------------------------------------------- prefix lookups in few round trips


def _deep_run(fake, agent: str = "synthetic-agent-0199") -> str:
    return runs(fake, agent)[0]["run_id"]


async def test_latest_pages_org_runs_concurrently_once_the_total_is_known(api_client, make_fake) -> None:
    fake = make_fake("latest", extra_agents=300, latency=0.02)  # 5,304 runs: 11 pages of 500
    full = _deep_run(fake)
    assert await resolve_run_id(api_client(fake), full[:12]) == full
    offsets = [int(p["offset"]) for p in requests_to(fake, "/v1/runs")]
    assert offsets[0] == 0 and len(offsets) == len(set(offsets))  # the first page once, no page twice
    assert set(offsets) <= set(range(0, 5304, 500))
    assert fake.max_in_flight == 8  # pages after the first went out together, 8 in flight (the client's bound)
    assert all("run_id_prefix" not in p for p in requests_to(fake, "/v1/runs")[1:])  # ignored once: not re-sent


async def test_a_long_prefix_stops_at_its_first_match(api_client, make_fake) -> None:
    fake = make_fake("latest", extra_agents=300)
    org = sorted(
        (r for rows in fake.data["runs"].values() for r in rows), key=lambda r: -fake.data["_processed_at"][r["run_id"]]
    )
    newest = org[3]["run_id"]  # on the first page
    assert await resolve_run_id(api_client(fake), newest[:12]) == newest
    assert requests_to(fake, "/v1/runs") == [{"limit": "500", "offset": "0", "run_id_prefix": newest[:12]}]


async def test_a_short_prefix_reads_every_page_to_prove_it_unique(api_client, make_fake) -> None:
    fake = make_fake("latest", extra_agents=300)
    full = _deep_run(fake)
    all_ids = [r["run_id"] for rows in fake.data["runs"].values() for r in rows]
    prefix = next(full[:n] for n in range(6, 13) if sum(i.startswith(full[:n]) for i in all_ids) == 1)
    assert await resolve_run_id(api_client(fake), prefix) == full
    assert sorted(int(p["offset"]) for p in requests_to(fake, "/v1/runs")) == list(range(0, 5304, 500))


async def test_march_scans_agents_newest_first_and_stops_early(api_client, make_fake) -> None:
    fake = make_fake("march", extra_agents=300, latency=0.01)
    order = agent_ids(fake)
    early = order[20]
    full = runs(fake, early)[0]["run_id"]
    assert await resolve_run_id(api_client(fake), full[:12]) == full
    scanned = [p.split("/")[3] for p in paths(fake) if p.startswith("/v1/agents/") and p.endswith("/runs")]
    assert scanned == order[: len(scanned)]  # in the API's order, newest activity first
    assert early in scanned and len(scanned) <= 21 + 8  # stopped with at most the in-flight ones past the hit
    assert paths(fake).count("/v1/agents") == 1


async def test_the_prefix_filter_is_used_when_the_server_honours_it(api_client, make_fake) -> None:
    """The local store answers GET /v1/runs?run_id_prefix=PFX with the matching runs only."""
    import httpx

    fake = make_fake("latest", extra_agents=300)

    async def store(request: httpx.Request) -> httpx.Response:
        response = await fake.ahandle(request)
        prefix = request.url.params.get("run_id_prefix")
        if request.url.path != "/v1/runs" or prefix is None:
            return response
        matched = [r for r in fake._org_runs if r["run_id"].startswith(prefix)]
        page = {"total": len(matched), "offset": 0, "limit": 500, "has_more": False}
        return httpx.Response(200, json={"runs": matched[:500], "page": page})

    transport = httpx.MockTransport(store)
    full = _deep_run(fake)
    assert await resolve_run_id(api_client(fake, transport=transport), full[:8]) == full
    assert await resolve_run_id(api_client(fake, transport=transport), full[:9]) == full
    assert requests_to(fake, "/v1/runs") == [
        {"limit": "500", "offset": "0", "run_id_prefix": full[:8]},
        {"limit": "500", "offset": "0", "run_id_prefix": full[:9]},
    ]


async def test_get_run_by_prefix_tries_the_id_and_the_lookup_in_one_round_trip(api_client, make_fake) -> None:
    fake = make_fake("latest", latency=0.05)
    full = _a_run(fake)
    await get_run(api_client(fake), run_id=full[:12])
    assert fake.max_in_flight == 2  # GET /v1/runs/{prefix} and the first /v1/runs page together
    assert paths(fake) == [f"/v1/runs/{full[:12]}", "/v1/runs", f"/v1/runs/{full}"]
