"""search_signals and get_signal: server-side filters, local validation, time windows, both generations."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from dunetrace_cli.errors import NotFound, UsageError
from dunetrace_cli.queries import get_signal, parse_since, search_signals
from tests.conftest import FIXED_NOW
from tests.queries._data import agent_ids, paths, requests_to, signals

pytestmark = pytest.mark.anyio


# ---------------------------------------------------------------- filters


async def test_filters_are_normalised_and_sent_to_the_server(api_client, fake) -> None:
    result = await search_signals(
        api_client(fake), agent_id="rag-agent", severity="medium", failure_type="tool-avoidance", limit=50
    )
    expected = [s for s in signals(fake, "rag-agent") if s["severity"] == "MEDIUM" and s["failure_type"] == "TOOL_AVOIDANCE"]
    assert [s.id for s in result.signals] == [s["id"] for s in expected]
    assert result.total_matched == len(expected) == 20
    assert (result.severity, result.failure_type, result.agent_id, result.agents_scanned) == (
        "MEDIUM", "TOOL_AVOIDANCE", "rag-agent", 1,
    )
    (params,) = requests_to(fake, "/v1/agents/rag-agent/signals")
    assert params == {
        "include_shadow": "false", "explain": "true", "severity": "MEDIUM", "failure_type": "TOOL_AVOIDANCE",
        "limit": "50", "offset": "0",
    }


@pytest.mark.parametrize("severity", ["critical", "High", "MEDIUM", "low"])
async def test_severity_is_case_insensitive(api_client, fake_latest, severity: str) -> None:
    result = await search_signals(api_client(fake_latest), severity=severity, limit=500)
    assert result.severity == severity.upper()
    expected = [s for s in signals(fake_latest) if s["severity"] == severity.upper()]
    assert [s.id for s in result.signals] == [s["id"] for s in expected]
    assert result.total_matched == len(expected)


async def test_a_severity_typo_is_rejected_locally(api_client, fake_latest) -> None:
    with pytest.raises(UsageError) as info:
        await search_signals(api_client(fake_latest), severity="hgih")
    assert info.value.message == "invalid severity 'hgih'. Valid: CRITICAL, HIGH, MEDIUM, LOW (any case)."
    assert fake_latest.requests == []


@pytest.mark.parametrize("failure_type", ["tool loop!", "9LIVES", "x" * 65, "TOOL_LOP", "CUSTOM_"])
async def test_an_unknown_failure_type_is_rejected_locally(api_client, fake_latest, failure_type: str) -> None:
    with pytest.raises(UsageError, match="unknown failure type"):
        await search_signals(api_client(fake_latest), failure_type=failure_type)
    assert fake_latest.requests == []


async def test_a_failure_type_typo_gets_a_did_you_mean(api_client, fake_latest) -> None:
    with pytest.raises(UsageError) as info:
        await search_signals(api_client(fake_latest), failure_type="TOOL_LOP")
    assert "Did you mean TOOL_LOOP?" in info.value.message


@pytest.mark.parametrize("failure_type", ["tool-loop", "Retry_Storm", "TASK_COMPLETION", "CUSTOM_PII", "voice_silence"])
async def test_known_and_open_failure_types_are_accepted(api_client, fake_latest, failure_type: str) -> None:
    result = await search_signals(api_client(fake_latest), agent_id="rag-agent", failure_type=failure_type)
    assert result.total_matched == sum(1 for s in result.signals)


async def test_an_open_prefix_failure_type_reaches_the_server(api_client, fake_latest) -> None:
    """VOICE_* and CUSTOM_* names are open families: no signal matches, nothing fails."""
    result = await search_signals(api_client(fake_latest), agent_id="rag-agent", failure_type="VOICE_SILENCE")
    assert result.signals == [] and result.total_matched == 0


async def test_limit_must_be_positive(api_client, fake_latest) -> None:
    with pytest.raises(UsageError, match="--limit 0"):
        await search_signals(api_client(fake_latest), limit=0)


async def test_limit_keeps_the_newest_and_reports_the_total(api_client, fake) -> None:
    result = await search_signals(api_client(fake), agent_id="langchain-example-agent", limit=3)
    expected = signals(fake, "langchain-example-agent")
    assert [s.id for s in result.signals] == [s["id"] for s in expected[:3]]
    assert result.total_matched == len(expected)
    assert requests_to(fake, "/v1/agents/langchain-example-agent/signals")[0]["limit"] == "3"


async def test_an_agent_without_signals(api_client, fake) -> None:
    result = await search_signals(api_client(fake), agent_id="clean-agent")
    assert result.signals == [] and result.total_matched == 0 and result.complete


# ---------------------------------------------------------------- across agents


async def test_across_agents_uses_org_signals_on_latest(api_client, fake_latest) -> None:
    result = await search_signals(api_client(fake_latest), severity="HIGH", limit=500)
    expected = [s for s in signals(fake_latest) if s["severity"] == "HIGH"]
    assert [s.id for s in result.signals] == [s["id"] for s in expected]
    assert result.total_matched == len(expected) == 39
    assert result.agents_scanned is None
    assert not [p for p in paths(fake_latest) if p.startswith("/v1/agents")]
    assert {p for p in paths(fake_latest)} == {"/v1/signals"}


async def test_across_agents_scans_every_agent_on_march(api_client, fake_march) -> None:
    result = await search_signals(api_client(fake_march), severity="HIGH", limit=500)
    expected = [s for s in signals(fake_march) if s["severity"] == "HIGH"]
    assert [s.id for s in result.signals] == [s["id"] for s in expected]
    assert result.total_matched == len(expected) == 27
    assert result.agents_scanned == 6
    assert paths(fake_march).count("/v1/signals") == 1  # probed once: the route is missing
    scanned = sorted(p for p in paths(fake_march) if p.endswith("/signals") and p != "/v1/signals")
    assert scanned == sorted(f"/v1/agents/{a}/signals" for a in agent_ids(fake_march))
    for a in agent_ids(fake_march):
        assert requests_to(fake_march, f"/v1/agents/{a}/signals")[0]["severity"] == "HIGH"


async def test_across_agents_the_limit_applies_to_the_merged_list(api_client, fake) -> None:
    result = await search_signals(api_client(fake), limit=5)
    every = signals(fake)
    assert [s.id for s in result.signals] == [s["id"] for s in every[:5]]
    assert result.total_matched == len(every)
    assert [s.agent_id for s in result.signals] == [s["agent_id"] for s in every[:5]]


# ---------------------------------------------------------------- time windows


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("90m", 5400), ("7d", 604800), ("2w", 1209600), ("30s", 30), (" 1.5 H ", 5400)],
)
def test_parse_since_windows(text: str, seconds: int) -> None:
    assert parse_since(text, FIXED_NOW) == FIXED_NOW - seconds


def test_parse_since_dates() -> None:
    assert parse_since("2026-11-20", FIXED_NOW) == datetime(2026, 11, 20, tzinfo=UTC).timestamp()
    assert parse_since("2026-11-24T11:00:00Z", FIXED_NOW) == datetime(2026, 11, 24, 11, tzinfo=UTC).timestamp()
    assert parse_since("2026-11-24T12:00:00+01:00", FIXED_NOW) == datetime(2026, 11, 24, 11, tzinfo=UTC).timestamp()
    assert parse_since(None, FIXED_NOW) is None and parse_since("", FIXED_NOW) is None


@pytest.mark.parametrize("text", ["yesterday", "24x", "0h", "-3d"])
def test_parse_since_rejects_nonsense(text: str) -> None:
    with pytest.raises(UsageError, match="invalid --since"):
        parse_since(text, FIXED_NOW)


async def test_since_keeps_signals_inside_the_window(api_client, fake) -> None:
    every = signals(fake, "rag-agent")
    cutoff = every[9]["detected_at"]
    result = await search_signals(api_client(fake), agent_id="rag-agent", since=cutoff, limit=500)
    inside = [s for s in every if s["detected_at"] >= cutoff]
    assert [s.id for s in result.signals] == [s["id"] for s in inside]
    assert 10 <= result.total_matched == len(inside) < len(every)  # ties at the cutoff are inside
    assert result.since == cutoff


async def test_since_stops_paging_at_the_cutoff(api_client, make_fake) -> None:
    fake = make_fake("latest", extra_agents=30)
    every = signals(fake)
    assert len(every) > 500  # more than one page org-wide
    cutoff = every[49]["detected_at"]

    await search_signals(api_client(fake), limit=1000)
    pages_without_cutoff = len(requests_to(fake, "/v1/signals"))
    fake.requests.clear()

    result = await search_signals(api_client(fake), since=cutoff, limit=1000)
    pages_with_cutoff = len(requests_to(fake, "/v1/signals"))
    inside = [s for s in every if s["detected_at"] >= cutoff]
    assert [s.id for s in result.signals] == [s["id"] for s in inside]
    assert result.total_matched == len(inside) >= 50
    assert pages_with_cutoff < pages_without_cutoff
    assert pages_with_cutoff == 1  # one page: the route is already known to exist, so no probe


async def test_since_across_agents_on_march(api_client, fake_march) -> None:
    every = signals(fake_march)
    cutoff = every[19]["detected_at"]
    result = await search_signals(api_client(fake_march), since=cutoff, limit=100)
    inside = [s for s in every if s["detected_at"] >= cutoff]
    assert [s.id for s in result.signals] == [s["id"] for s in inside]
    assert result.total_matched == len(inside) >= 20


# ---------------------------------------------------------------- get_signal


async def test_get_signal_with_agent(api_client, fake) -> None:
    wanted = signals(fake, "rag-agent")[3]
    view = await get_signal(api_client(fake), signal_id=wanted["id"], agent_id="rag-agent")
    sig = view.signal
    assert (sig.id, sig.failure_type, sig.severity, sig.run_id, sig.agent_id) == (
        wanted["id"], wanted["failure_type"], wanted["severity"], wanted["run_id"], "rag-agent",
    )
    assert [f.description for f in sig.suggested_fixes] == [f["description"] for f in wanted["suggested_fixes"]]
    assert view.detector is not None and view.detector["failure_type"] == wanted["failure_type"]
    assert paths(fake) == ["/v1/agents/rag-agent/signals"]  # data came back: no agent-list check
    assert requests_to(fake, "/v1/agents/rag-agent/signals")[0]["include_shadow"] == "true"


async def test_get_signal_without_agent_uses_org_signals_on_latest(api_client, fake_latest) -> None:
    wanted = signals(fake_latest)[-1]  # the oldest: the scan must page to it
    view = await get_signal(api_client(fake_latest), signal_id=wanted["id"])
    assert view.signal.id == wanted["id"] and view.signal.agent_id == wanted["agent_id"]
    assert {p for p in paths(fake_latest)} == {"/v1/signals"}


async def test_a_deep_signal_is_scanned_unexplained_then_fetched_explained(api_client, fake_latest) -> None:
    deep = [s for s in signals(fake_latest)[60:] if s["suggested_fixes"] and s["what"]]
    wanted = deep[0]
    view = await get_signal(api_client(fake_latest), signal_id=wanted["id"])
    sig = view.signal
    assert (sig.id, sig.what, sig.why_it_matters) == (wanted["id"], wanted["what"], wanted["why_it_matters"])
    assert [f.code for f in sig.suggested_fixes] == [f["code"] for f in wanted["suggested_fixes"]]
    probe, first, scan, again = requests_to(fake_latest, "/v1/signals")  # the route probe (limit=1) first
    assert probe == {"limit": "1", "offset": "0"}
    assert (first["explain"], first["limit"], first["offset"]) == ("true", "50", "0")
    assert (scan["explain"], scan["limit"], scan["offset"]) == ("false", "500", "50")
    assert (again["explain"], again["limit"]) == ("true", "1") and int(again["offset"]) >= 50


async def test_get_signal_without_agent_scans_agents_on_march(api_client, fake_march) -> None:
    wanted = signals(fake_march, "support-agent-lc")[0]
    view = await get_signal(api_client(fake_march), signal_id=wanted["id"])
    assert view.signal.id == wanted["id"] and view.signal.agent_id == "support-agent-lc"
    assert view.signal.title == wanted["title"]


async def test_the_first_hit_stops_the_scan(api_client, make_fake) -> None:
    fake = make_fake("march", extra_agents=40)
    first_agent = agent_ids(fake)[0]
    wanted = signals(fake, first_agent)[0]

    async def slow(request: httpx.Request) -> httpx.Response:
        import asyncio

        await asyncio.sleep(0.002)
        return await fake.ahandle(request)

    view = await get_signal(api_client(transport=httpx.MockTransport(slow)), signal_id=wanted["id"])
    assert view.signal.id == wanted["id"]
    scanned = [p for p in paths(fake) if p.startswith("/v1/agents/") and p.endswith("/signals")]
    assert len(agent_ids(fake)) == 46
    assert len(scanned) <= 16  # at most two waves of 8 before the hit cancels the rest


async def test_unknown_signal_is_not_found(api_client, fake) -> None:
    with pytest.raises(NotFound) as info:
        await get_signal(api_client(fake), signal_id=999999)
    count = len(signals(fake))
    assert info.value.message == (
        f"no signal 999999 among {count} signals of all agents. List recent ones with `dunetrace signals`."
    )


async def test_a_signal_of_another_agent_is_not_found_within_an_agent(api_client, fake) -> None:
    other = signals(fake, "rag-agent")[0]["id"]
    with pytest.raises(NotFound, match=f"no signal {other} among 0 signals of agent 'clean-agent'"):
        await get_signal(api_client(fake), signal_id=other, agent_id="clean-agent")


async def test_signal_ids_are_positive(api_client, fake_latest) -> None:
    with pytest.raises(UsageError, match="positive"):
        await get_signal(api_client(fake_latest), signal_id=0)
    assert fake_latest.requests == []


async def test_a_server_before_explain_is_scanned_in_full_pages(api_client, make_fake) -> None:
    fake = make_fake("march", extra_agents=10)
    wanted = signals(fake, "support-agent-lc")[-1]
    view = await get_signal(api_client(fake), signal_id=wanted["id"])
    assert view.signal.id == wanted["id"] and view.signal.what == wanted["what"]
    scans = [params for _, p, params in fake.requests if p.startswith("/v1/agents/") and p.endswith("/signals")]
    assert {params["limit"] for params in scans} == {"500"}  # not 50 then 500: March explains every row anyway
    assert len(scans) <= len(agent_ids(fake))  # at most one page per agent
