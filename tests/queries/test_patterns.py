"""get_patterns: systemic vs one-off, zero-filled daily trend, worst day, hot inputs."""

from __future__ import annotations

import copy

import pytest

from dunetrace_cli.models import AgentInsights
from dunetrace_cli.queries import get_patterns
from dunetrace_cli.queries._common import last_days
from dunetrace_cli.queries.patterns import _from_server
from tests.conftest import FIXED_NOW
from tests.queries._data import rewriting

pytestmark = pytest.mark.anyio

TODAY = "2026-11-24"  # the UTC day of FIXED_NOW and of every run in the datasets


def test_last_days() -> None:
    days = last_days(FIXED_NOW, 14)
    assert len(days) == 14 and days[-1] == TODAY and days[0] == "2026-11-11"
    assert days == sorted(days)


@pytest.mark.parametrize("trend_days", [7, 14, 30])
async def test_server_patterns_on_latest(api_client, fake_latest, trend_days: int) -> None:
    result = await get_patterns(api_client(fake_latest), agent_id="retry-agent", trend_days=trend_days)
    served = fake_latest.data["insights"]["retry-agent"]["systemic_patterns"]
    assert result.source == "server" and result.notes == []
    assert result.window_days == 7 and result.trend_days == trend_days
    assert result.days == last_days(FIXED_NOW, trend_days)
    assert result.total_runs == 16
    assert sorted((r.failure_type, r.affected_runs, r.rate, r.is_systemic) for r in result.patterns) == sorted(
        (p["failure_type"], p["affected_runs"], p["rate"], p["is_systemic"]) for p in served
    )
    for row in result.patterns:
        assert [p.day for p in row.trend] == result.days  # zero-filled, oldest first
        assert all(p.affected_runs == 0 and p.rate == 0.0 for p in row.trend[:-1])
        assert row.trend[-1].affected_runs == row.affected_runs  # every run is from today
        assert (row.worst_day, row.worst_day_rate) == (TODAY, row.trend[-1].rate)
    # systemic first, then by affected runs
    kinds = [r.is_systemic for r in result.patterns]
    assert kinds == sorted(kinds, reverse=True)


async def test_is_systemic_is_rate_at_least_ten_percent(api_client, fake_latest) -> None:
    result = await get_patterns(api_client(fake_latest), agent_id="retry-agent")
    by_type = {r.failure_type: r for r in result.patterns}
    assert (by_type["CASCADING_TOOL_FAILURE"].rate, by_type["CASCADING_TOOL_FAILURE"].is_systemic) == (0.25, True)
    assert (by_type["SLOW_STEP"].rate, by_type["SLOW_STEP"].is_systemic) == (0.063, False)
    assert all(r.is_systemic is (r.rate >= 0.10) for r in result.patterns)


def test_the_threshold_is_inclusive(fake_latest) -> None:
    body = copy.deepcopy(fake_latest.data["insights"]["retry-agent"])
    body["systemic_patterns"][0]["rate"] = 0.10
    body["systemic_patterns"][1]["rate"] = 0.099
    rows, _ = _from_server(AgentInsights.model_validate(body), last_days(FIXED_NOW, 7))
    assert rows[0].is_systemic is True
    assert rows[1].is_systemic is False


async def test_client_patterns_reproduce_the_servers(api_client, fake_latest) -> None:
    """Latest data with systemic_patterns/failure_rates removed: the March fallback gives the same rows."""

    def strip(body: dict) -> dict:
        return {k: v for k, v in body.items() if k not in ("systemic_patterns", "failure_rates")}

    client = api_client(transport=rewriting(fake_latest, "/insights", strip))
    for agent in ("retry-agent", "langchain-example-agent", "support-agent-lc", "rag-agent", "clean-agent"):
        computed = await get_patterns(client, agent_id=agent)
        served = await get_patterns(api_client(fake_latest), agent_id=agent)
        assert computed.source == "client" and served.source == "server"
        if served.patterns:  # the server states its window's run count only on pattern rows
            assert computed.total_runs == served.total_runs
        assert [
            (r.failure_type, r.total_runs, r.affected_runs, r.rate, r.is_systemic, r.worst_day, r.worst_day_rate)
            for r in computed.patterns
        ] == [
            (r.failure_type, r.total_runs, r.affected_runs, r.rate, r.is_systemic, r.worst_day, r.worst_day_rate)
            for r in served.patterns
        ], agent
        assert [[p.affected_runs for p in r.trend] for r in computed.patterns] == [
            [p.affected_runs for p in r.trend] for r in served.patterns
        ]


async def test_client_patterns_on_march(api_client, fake_march) -> None:
    result = await get_patterns(api_client(fake_march), agent_id="rag-agent", trend_days=7)
    assert result.source == "client"
    assert "no systemic_patterns" in result.notes[0]
    assert result.total_runs == 20
    live = fake_march.data["signals"]["rag-agent"]
    for row in result.patterns:
        affected = {s["run_id"] for s in live if s["failure_type"] == row.failure_type}
        assert row.affected_runs == len(affected)
        assert row.rate == round(len(affected) / 20, 3)
        assert row.is_systemic is (row.rate >= 0.10)
        assert row.last_seen == max(s["detected_at"] for s in live if s["failure_type"] == row.failure_type)
        assert len(row.trend) == 7 and row.trend[-1].total_runs == 20
    assert {r.failure_type for r in result.patterns} == {s["failure_type"] for s in live}


async def test_hot_inputs_fail_at_least_half_the_time(api_client, fake_march) -> None:
    result = await get_patterns(api_client(fake_march), agent_id="rag-agent")
    inputs = fake_march.data["insights"]["rag-agent"]["input_patterns"]
    expected = [(p["input_hash"], p["failure_type"], p["rate"]) for p in inputs if p["rate"] >= 0.5]
    assert expected, "the March data has hot inputs for rag-agent"
    assert [(p.input_hash, p.failure_type, p.rate) for p in result.hot_inputs] == expected
    assert any(p["rate"] < 0.5 for p in inputs)  # and some that are left out


async def test_versions_come_from_the_insights(api_client, fake) -> None:
    result = await get_patterns(api_client(fake), agent_id="langchain-example-agent")
    served = fake.data["insights"]["langchain-example-agent"]["versions"]
    assert [(v.agent_version, v.run_count, v.signal_rate) for v in result.versions] == [
        (v["agent_version"], v["run_count"], v["signal_rate"]) for v in served
    ]


async def test_an_agent_without_failures_has_no_patterns(api_client, fake) -> None:
    result = await get_patterns(api_client(fake), agent_id="clean-agent")
    assert result.patterns == [] and result.hot_inputs == []
    # The latest server states the window's run count only on pattern rows, so it is unknown (None)
    # there; the client-side computation (March) counts the 12 runs itself.
    assert result.total_runs in (None, 12)
