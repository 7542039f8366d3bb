"""get_health: the server's score on latest, the same formula client-side on March."""

from __future__ import annotations

import pytest

from dunetrace_cli.models import HealthScore
from dunetrace_cli.queries import get_health
from dunetrace_cli.queries.health import compute_health, latency_score, token_score
from tests.queries._data import agent_ids, paths, runs, without_route

pytestmark = pytest.mark.anyio


async def test_server_score_on_latest(api_client, fake_latest) -> None:
    for agent in agent_ids(fake_latest):
        health = await get_health(api_client(fake_latest), agent_id=agent)
        served = fake_latest.data["health_score"][agent]
        assert health.source == "server" and health.notes == []
        assert health.score == served["score"]
        assert {k: (c.score, c.max, c.value) for k, c in health.components.items()} == {
            k: (c["score"], c["max"], c["value"]) for k, c in served["components"].items()
        }
        assert health.sample_runs == served["sample_runs"]


async def test_client_score_on_march_is_marked(api_client, fake_march) -> None:
    health = await get_health(api_client(fake_march), agent_id="langchain-example-agent")
    assert health.source == "client"
    assert health.notes[0].startswith("computed by dunetrace-cli with the server's formula")
    assert health.sample_runs == len(runs(fake_march, "langchain-example-agent"))
    assert set(health.components) == {"failure_rate", "loop_avoidance", "token_efficiency", "latency"}
    assert health.score == sum(c.score for c in health.components.values())
    # the failure component is the share of runs with a live signal in the March data
    failing = {s["run_id"] for s in fake_march.data["signals"]["langchain-example-agent"]}
    assert health.components["failure_rate"].value == round(100 * len(failing) / 40, 1)


# Agents whose server score the client-side formula reproduces exactly (all of them on this data).
PARITY = ["retry-agent", "langchain-example-agent", "clean-agent", "support-agent-lc", "rag-agent", "onboarding-agent"]


@pytest.mark.parametrize("agent", PARITY)
async def test_client_formula_reproduces_the_latest_servers_score(api_client, fake_latest, agent: str) -> None:
    """Same data, health-score route removed: the client computes what the server computed."""
    client = api_client(transport=without_route(fake_latest, "/health-score"))
    computed = await get_health(client, agent_id=agent)
    served = HealthScore.model_validate(fake_latest.data["health_score"][agent])
    assert computed.source == "client"
    assert computed.score == served.score
    assert computed.sample_runs == served.sample_runs
    assert {k: (c.score, c.value) for k, c in computed.components.items()} == {
        k: (c.score, c.value) for k, c in served.components.items()
    }


async def test_fewer_than_three_runs_has_no_score(api_client, fake_march) -> None:
    health = await get_health(api_client(fake_march), agent_id="onboarding-agent")
    assert health.score is None and health.components == {}
    assert health.sample_runs == 2
    assert "needs at least 3 runs in 30 days; found 2" in health.notes
    assert health.grade == "unknown"


async def test_run_details_are_capped_and_the_cap_is_said(api_client, fake_march) -> None:
    health = await compute_health(api_client(fake_march), agent_id="langchain-example-agent", detail_cap=5)
    assert "token and latency averages use the newest 5 of 40 runs" in health.notes
    details = [p for p in paths(fake_march) if p.startswith("/v1/runs/")]
    newest = [r["run_id"] for r in runs(fake_march, "langchain-example-agent")[:5]]
    assert sorted(details) == sorted(f"/v1/runs/{r}" for r in newest)


def test_absolute_scales() -> None:
    assert [token_score(v) for v in (None, 0, 500, 2250, 4000, 9000)] == [15, 20, 20, 10, 0, 0]
    assert [latency_score(v) for v in (None, 0, 1000, 4500, 8000, 20000)] == [10, 15, 15, 8, 0, 0]


@pytest.mark.parametrize(("score", "grade"), [(None, "unknown"), (100, "healthy"), (80, "healthy"), (79, "degraded"), (60, "degraded"), (59, "unhealthy")])
def test_grades(score: int | None, grade: str) -> None:
    assert HealthScore(agent_id="a", score=score).grade == grade
