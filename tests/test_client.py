"""ApiClient: headers, retries, the error mapping, endpoint detection and bounded fan-out."""

from __future__ import annotations

import asyncio
import email.utils
from typing import Any

import httpx
import pytest

from dunetrace_cli import __version__
from dunetrace_cli.client import RouteMissing
from dunetrace_cli.errors import ApiUnavailable, AuthError, ExitCode, NotFound, UsageError
from dunetrace_cli.queries import get_health, get_token_stats, search_signals

pytestmark = pytest.mark.anyio


def scripted(fake, *steps: Any) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport that plays ``steps`` (an exception to raise or a Response to return) then defers to ``fake``."""
    queue = list(steps)
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if queue:
            step = queue.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return await fake.ahandle(request)

    return httpx.MockTransport(handler), seen


def paths(fake) -> list[str]:
    return [path for _, path, _ in fake.requests]


# ---------------------------------------------------------------- headers


async def test_authorization_and_user_agent_headers(api_client, fake_latest) -> None:
    transport, seen = scripted(fake_latest)
    async with api_client(transport=transport, api_key="dt_dev_test") as client:
        body = await client.get("/v1/agents", {"limit": 2})
    assert [a["agent_id"] for a in body["agents"]] == [a["agent_id"] for a in fake_latest._agents[:2]]
    (request,) = seen
    assert request.method == "GET"
    assert request.headers["authorization"] == "Bearer dt_dev_test"
    assert request.headers["user-agent"] == f"dunetrace-cli/{__version__} (+httpx)"
    assert request.headers["accept"] == "application/json"
    assert request.url.params["limit"] == "2"


async def test_a_required_key_is_accepted(api_client, make_fake) -> None:
    fake = make_fake("latest", api_key="dt_live_required_key")
    async with api_client(fake, api_key="dt_live_required_key") as client:
        body = await client.get("/v1/agents")
    assert body["page"]["total"] == len(fake.data["agents"])


async def test_params_drop_none_and_spell_booleans_like_the_server(api_client, fake_latest) -> None:
    async with api_client(fake_latest) as client:
        await client.get("/v1/agents/rag-agent/runs", {"has_signals": False, "offset": None, "limit": 3})
    assert fake_latest.requests == [("GET", "/v1/agents/rag-agent/runs", {"has_signals": "false", "limit": "3"})]


# ---------------------------------------------------------------- retries


async def test_connect_error_then_success(api_client, fake_latest) -> None:
    transport, seen = scripted(fake_latest, httpx.ConnectError("refused"))
    client = api_client(transport=transport)
    body = await client.get("/v1/agents")
    assert len(body["agents"]) == len(fake_latest.data["agents"])
    assert len(seen) == 2
    assert client.slept == [0.25]


async def test_503_twice_then_200(api_client, fake_latest) -> None:
    fake_latest.fail_next = [503, 503]
    client = api_client(fake_latest)
    body = await client.get("/v1/agents")
    assert body["page"]["total"] == len(fake_latest.data["agents"])
    assert paths(fake_latest) == ["/v1/agents"] * 3
    assert client.slept == [0.25, 0.5]  # exponential backoff
    assert client.request_count == 3


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_three_5xx_give_up_as_unavailable(api_client, fake_latest, status: int) -> None:
    fake_latest.fail_next = [status] * 3
    client = api_client(fake_latest)
    with pytest.raises(ApiUnavailable, match=f"HTTP {status}") as info:
        await client.get("/v1/agents")
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert len(fake_latest.requests) == 3  # at most 3 attempts
    assert client.slept == [0.25, 0.5]


async def test_500_is_not_retried(api_client, fake_latest) -> None:
    fake_latest.fail_next = [500]
    client = api_client(fake_latest)
    with pytest.raises(ApiUnavailable, match="HTTP 500"):
        await client.get("/v1/agents")
    assert len(fake_latest.requests) == 1


async def test_429_honours_retry_after_within_the_deadline(api_client, fake_latest) -> None:
    throttled = httpx.Response(429, headers={"retry-after": "7"}, json={"detail": "Too Many Requests"})
    also = httpx.Response(429, headers={"retry-after": "2.5"}, json={"detail": "Too Many Requests"})
    transport, seen = scripted(fake_latest, throttled, also)
    client = api_client(transport=transport, timeout=30)
    body = await client.get("/v1/agents")
    assert body["agents"]
    assert len(seen) == 3
    assert client.slept == [7.0, 2.5]


async def test_429_retry_after_beyond_the_deadline_stops_at_once(api_client, fake_latest) -> None:
    huge = httpx.Response(429, headers={"retry-after": "3600"}, json={"detail": "Too Many Requests"})
    transport, seen = scripted(fake_latest, huge)
    client = api_client(transport=transport, timeout=15)
    with pytest.raises(ApiUnavailable) as info:
        await client.get("/v1/agents")
    assert info.value.message.startswith("rate limited; the server asks to retry in 60 min (HTTP 429")
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert len(seen) == 1 and client.slept == []


async def test_429_retry_after_as_an_http_date(api_client, fake_latest) -> None:
    wall = 1_800_000_000.0
    soon = email.utils.formatdate(wall + 4, usegmt=True)
    later = email.utils.formatdate(wall + 7200, usegmt=True)
    transport, seen = scripted(
        fake_latest,
        httpx.Response(429, headers={"retry-after": soon}, json={}),
        httpx.Response(429, headers={"retry-after": later}, json={}),
    )
    client = api_client(transport=transport, timeout=15, wallclock=lambda: wall)
    with pytest.raises(ApiUnavailable, match=r"^rate limited; the server asks to retry in 2 h "):
        await client.get("/v1/agents")
    assert client.slept == [4.0]
    assert len(seen) == 2


async def test_429_without_retry_after_backs_off(api_client, fake_latest) -> None:
    transport, _ = scripted(fake_latest, httpx.Response(429, json={}), httpx.Response(429, headers={"retry-after": "soon"}))
    client = api_client(transport=transport)
    await client.get("/v1/agents")
    assert client.slept == [0.25, 0.5]


async def test_429_three_times_is_unavailable(api_client, fake_latest) -> None:
    fake_latest.fail_next = [429] * 3
    client = api_client(fake_latest)
    with pytest.raises(ApiUnavailable, match="rate limiting"):
        await client.get("/v1/agents")
    assert len(fake_latest.requests) == 3


async def test_connect_errors_three_times_is_unreachable(api_client, fake_latest) -> None:
    transport, seen = scripted(fake_latest, *[httpx.ConnectError("refused")] * 3)
    client = api_client(transport=transport, api_url="http://127.0.0.1:9")
    with pytest.raises(ApiUnavailable) as info:
        await client.get("/v1/agents")
    assert len(seen) == 3
    message = info.value.message
    assert message.startswith("Dunetrace Customer API unreachable at http://127.0.0.1:9.")
    assert "docker compose up -d" in message and "DUNETRACE_API_URL" in message


# ---------------------------------------------------------------- error mapping


@pytest.mark.parametrize("key", [None, "dt_wrong_key"])
async def test_401_is_an_auth_error_naming_the_variable(api_client, make_fake, key: str | None) -> None:
    fake = make_fake("latest", api_key="dt_live_required_key")
    transport = fake.transport()
    if key is None:  # no Authorization header at all

        async def strip(request: httpx.Request) -> httpx.Response:
            del request.headers["authorization"]
            return await fake.ahandle(request)

        transport = httpx.MockTransport(strip)
    client = api_client(transport=transport, api_key=key or "dt_dev_test")
    with pytest.raises(AuthError) as info:
        await client.get("/v1/agents")
    assert info.value.exit_code == ExitCode.AUTH_OR_CONFIG == 3
    assert "DUNETRACE_API_KEY" in info.value.message
    assert "HTTP 401" in info.value.message
    detail = "Missing Authorization header" if key is None else "Invalid or inactive API key"
    assert detail in info.value.message
    assert len(fake.requests) == 1  # never retried


async def test_404_on_a_route_is_route_missing(api_client, fake_march) -> None:
    client = api_client(fake_march)
    with pytest.raises(RouteMissing) as info:
        await client.get("/v1/agents/rag-agent/health-score")
    assert info.value.path == "/v1/agents/rag-agent/health-score"
    assert info.value.exit_code == ExitCode.NOT_FOUND


async def test_404_on_a_run_id_is_not_found(api_client, fake) -> None:
    client = api_client(fake)
    with pytest.raises(NotFound) as info:
        await client.get("/v1/runs/does-not-exist")
    assert not isinstance(info.value, RouteMissing)
    assert "does-not-exist" in info.value.message and "not found" in info.value.message


async def test_422_string_detail(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    with pytest.raises(UsageError) as info:
        await client.get("/v1/signals", {"severity": "bogus"})
    expected = fake_latest.dispatch(httpx.Request("GET", "http://x/v1/signals?severity=bogus"))
    assert expected[0] == 422
    server_text = httpx.Response(422, content=expected[1]).json()["detail"]
    assert isinstance(server_text, str)
    assert info.value.message == f"The Dunetrace API rejected the request: {server_text}."
    assert info.value.exit_code == 2


async def test_422_list_detail(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    with pytest.raises(UsageError) as info:
        await client.get("/v1/agents", {"limit": 501})
    # FastAPI's list form: loc without the "query" prefix, then the pydantic message
    assert info.value.message == (
        "The Dunetrace API rejected the request: limit: Input should be less than or equal to 500."
    )


async def test_422_march_failure_type_allow_list(api_client, fake_march) -> None:
    client = api_client(fake_march)
    with pytest.raises(UsageError, match="rejected the request: .*failure_type"):
        await client.get("/v1/agents/rag-agent/signals", {"failure_type": "UNREAD_TOOL_ERROR"})


async def test_malformed_json_names_the_url(api_client, fake_latest) -> None:
    fake_latest.malformed_paths.add("/v1/agents")
    client = api_client(fake_latest, api_url="http://fake.test:8002")
    with pytest.raises(ApiUnavailable) as info:
        await client.get("/v1/agents")
    assert "malformed response for http://fake.test:8002/v1/agents" in info.value.message
    assert info.value.exit_code == 5


async def test_timeout_is_unavailable(api_client, fake_latest) -> None:
    transport, seen = scripted(fake_latest, httpx.ReadTimeout("slow"))
    client = api_client(transport=transport, timeout=0.2)
    with pytest.raises(ApiUnavailable) as info:
        await client.get("/v1/agents")
    assert "did not answer within 0.2s" in info.value.message
    assert "--timeout" in info.value.message
    assert len(seen) == 1


async def test_timeout_against_a_slow_server(api_client, served) -> None:
    url, _ = served("latest", latency=0.4)
    async with api_client(api_url=url, timeout=0.2) as client:
        with pytest.raises(ApiUnavailable, match="did not answer within 0.2s"):
            await client.get("/v1/agents")


async def test_other_4xx_is_a_usage_error_naming_the_url(api_client, fake_latest) -> None:
    transport, _ = scripted(fake_latest, httpx.Response(405, json={"detail": "Method Not Allowed"}))
    client = api_client(transport=transport, api_url="http://fake.test")
    with pytest.raises(UsageError, match=r"HTTP 405 for http://fake.test/v1/agents: Method Not Allowed"):
        await client.get("/v1/agents")


# ---------------------------------------------------------------- endpoint detection


async def test_feature_detection_happens_once_per_process_per_base_url(api_client, fake_march) -> None:
    def route_probes() -> int:
        return sum(1 for p in paths(fake_march) if p.endswith("/token-stats"))

    first = await get_token_stats(api_client(fake_march), agent_id="rag-agent")
    assert first.source == "client"
    assert route_probes() == 1
    # a new client (a new command in the same process) on the same URL does not ask again
    second = await get_token_stats(api_client(fake_march), agent_id="clean-agent")
    assert second.source == "client"
    assert route_probes() == 1
    # another base URL is another server: detect again
    await get_token_stats(api_client(fake_march, api_url="http://other.test"), agent_id="rag-agent")
    assert route_probes() == 2


async def test_present_features_are_remembered_as_present(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    health = await get_health(client, agent_id="rag-agent")
    assert health.source == "server"
    assert not client.feature_known_missing("health_score")


async def test_a_404_on_an_id_does_not_mark_a_feature_missing(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    with pytest.raises(NotFound):
        await client.get_feature("org_runs", "/v1/runs/does-not-exist")
    assert not client.feature_known_missing("org_runs")


# ---------------------------------------------------------------- bounded fan-out


async def test_fan_out_concurrency_is_bounded_at_8(api_client, make_fake) -> None:
    fake = make_fake("march", extra_agents=30)
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.005)
            return await fake.ahandle(request)
        finally:
            in_flight -= 1

    client = api_client(transport=httpx.MockTransport(slow))
    result = await search_signals(client, severity="HIGH", limit=500)
    per_agent = [p for p in paths(fake) if p.startswith("/v1/agents/") and p.endswith("/signals")]
    assert len(per_agent) == len(fake.data["agents"]) == 36
    assert peak == 8
    expected = sum(1 for ss in fake.data["signals"].values() for s in ss if s["severity"] == "HIGH")
    assert result.total_matched == expected


async def test_concurrent_gets_on_one_client_each_get_their_own_answer(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    ids = ["rag-agent", "clean-agent", "retry-agent"]
    bodies = await asyncio.gather(*(client.get(f"/v1/agents/{a}/runs", {"limit": 1}) for a in ids))
    assert [b["page"]["total"] for b in bodies] == [len(fake_latest.data["runs"][a]) for a in ids]


# ---------------------------------------------------------------- writes


async def test_a_write_is_not_retried_once_it_may_have_reached_the_server(api_client, fake_latest) -> None:
    transport, seen = scripted(fake_latest, httpx.Response(503, json={"detail": "busy"}))
    client = api_client(transport=transport)
    with pytest.raises(ApiUnavailable, match="HTTP 503"):
        await client.send("POST", "/v1/issues/1/resolve", {"note": "é"})
    assert len(seen) == 1
    assert seen[0].content == '{"note":"é"}'.encode()
    assert seen[0].headers["content-type"] == "application/json"


async def test_a_write_after_a_failed_connect_is_retried_and_says_nothing_changed(api_client, fake_latest) -> None:
    transport, seen = scripted(fake_latest, *[httpx.ConnectError("refused")] * 3)
    client = api_client(transport=transport)
    with pytest.raises(ApiUnavailable) as info:
        await client.send("POST", "/v1/issues/1/resolve")
    assert len(seen) == 3
    assert info.value.message.endswith("Nothing was changed.")


async def test_a_write_that_timed_out_may_have_been_applied(api_client, fake_latest) -> None:
    transport, seen = scripted(fake_latest, httpx.ReadTimeout("slow"))
    client = api_client(transport=transport)
    with pytest.raises(ApiUnavailable) as info:
        await client.send("PATCH", "/v1/policies/3", {"enabled": True})
    assert len(seen) == 1
    assert info.value.message.endswith(
        "the change may or may not have been applied: check with a read command before retrying."
    )


async def test_a_204_write_returns_none(api_client, fake_latest) -> None:
    transport, _ = scripted(fake_latest, httpx.Response(204))
    assert await api_client(transport=transport).send("DELETE", "/v1/policies/3") is None


# ---------------------------------------------------------------- the command deadline


def ticking(fake, seconds_per_request: float) -> tuple[httpx.MockTransport, list[float]]:
    """A transport over ``fake`` whose every request advances a fake monotonic clock."""
    now = [1000.0]

    async def handler(request: httpx.Request) -> httpx.Response:
        now[0] += seconds_per_request
        return await fake.ahandle(request)

    return httpx.MockTransport(handler), now


async def test_a_command_stops_after_four_request_timeouts(api_client, fake_latest) -> None:
    transport, now = ticking(fake_latest, 3.0)
    client = api_client(transport=transport, timeout=5.0, monotonic=lambda: now[0])
    for _ in range(6):  # 6 x 3 s = 18 s of the 20 s command deadline
        await client.get("/v1/agents")
    await client.get("/v1/agents")  # starts at 18 s: still inside
    with pytest.raises(ApiUnavailable) as info:
        await client.get("/v1/agents")
    assert info.value.message.startswith("the command did not finish within 20s (8 requests to http://fake.test;")


async def test_a_command_scope_gives_each_call_its_own_deadline(api_client, fake_latest) -> None:
    transport, now = ticking(fake_latest, 15.0)
    client = api_client(transport=transport, timeout=15.0, monotonic=lambda: now[0])
    for _ in range(6):  # 90 s in all, past one 60 s command deadline, but each call is its own command
        with client.command_scope():
            await client.get("/v1/agents")
    with pytest.raises(ApiUnavailable, match="did not finish within 60s"):
        await client.get("/v1/agents")  # outside any scope: the client's own deadline has passed


async def test_the_response_size_limit_stops_reading(api_client, fake_latest) -> None:
    big = httpx.Response(200, headers={"content-type": "application/json"}, content=b"[" + b"1," * 600 + b"1]")
    transport, _ = scripted(fake_latest, big)
    client = api_client(transport=transport, max_response_bytes=1000)
    with pytest.raises(ApiUnavailable, match="larger than the 1,000 bytes response-size limit"):
        await client.get("/v1/agents")


async def test_a_copy_of_a_long_lived_client_is_a_new_command(api_client, fake_latest) -> None:
    """`mcp serve` gives each tool call a copy of its one client: each copy gets a fresh deadline."""
    import copy

    transport, now = ticking(fake_latest, 50.0)
    shared = api_client(transport=transport, timeout=15.0, monotonic=lambda: now[0])
    for _ in range(3):  # 150 s of server life, 50 s per call: each call inside its own 60 s
        await copy.copy(shared).get("/v1/agents")
    with pytest.raises(ApiUnavailable, match="did not finish within 60s"):
        await shared.get("/v1/agents")


async def test_a_long_command_can_opt_out_of_the_command_deadline(api_client, fake_latest) -> None:
    transport, now = ticking(fake_latest, 10.0)
    client = api_client(transport=transport, timeout=15.0, monotonic=lambda: now[0], command_deadline=False)
    for _ in range(10):  # 100 s in all, each request well inside its own 15 s
        await client.get("/v1/agents")
    assert client.request_count == 10
