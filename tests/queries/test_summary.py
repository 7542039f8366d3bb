"""summarize_agent: the one-shot diagnosis."""

from __future__ import annotations

from collections import defaultdict

import pytest

from dunetrace_cli.models.common import SEVERITY_RANK
from dunetrace_cli.queries import summarize_agent
from dunetrace_cli.registry import cli_line
from tests.queries._data import runs, signals

pytestmark = pytest.mark.anyio


def expected_breakdown(fake, agent: str) -> list[tuple[str, int, int, float, bool]]:
    live = signals(fake, agent)
    total = len(runs(fake, agent))
    by_type: dict[str, set[str]] = defaultdict(set)
    count: dict[str, int] = defaultdict(int)
    for s in live:
        by_type[s["failure_type"]].add(s["run_id"])
        count[s["failure_type"]] += 1
    return sorted(
        (
            (t, count[t], len(ids), round(100 * len(ids) / total, 1), len(ids) / total >= 0.10)
            for t, ids in by_type.items()
        ),
        key=lambda row: row[0],
    )


@pytest.mark.parametrize("agent", ["rag-agent", "retry-agent", "support-agent-lc"])
async def test_summary_values(api_client, fake, agent: str) -> None:
    result = await summarize_agent(api_client(fake), agent_id=agent)
    all_runs = runs(fake, agent)
    assert result.agent.agent_id == agent
    assert result.runs_total == len(all_runs)
    assert result.failing_runs == sum(1 for r in all_runs if r["has_signals"])
    assert result.clean_runs == result.runs_total - result.failing_runs
    assert result.health.source == ("server" if fake.generation == "latest" else "client")

    got = sorted((b.failure_type, b.signals, b.runs_affected, b.pct_of_runs, b.is_systemic) for b in result.breakdown)
    assert got == expected_breakdown(fake, agent)
    # most affected runs first
    affected = [b.runs_affected for b in result.breakdown]
    assert affected == sorted(affected, reverse=True)
    for row in result.breakdown:
        severities = {s["severity"] for s in signals(fake, agent) if s["failure_type"] == row.failure_type}
        assert row.worst_severity == min(severities, key=SEVERITY_RANK.__getitem__)

    newest = signals(fake, agent)[:5]
    assert [d.signal.id for d in result.newest_signals] == [s["id"] for s in newest]
    for digest, raw in zip(result.newest_signals, newest):
        assert digest.first_fix is not None
        assert digest.first_fix.description == raw["suggested_fixes"][0]["description"]
        assert digest.first_fix.code == raw["suggested_fixes"][0]["code"]


async def test_next_steps_point_at_the_worst_newest_signal(api_client, fake_latest) -> None:
    result = await summarize_agent(api_client(fake_latest), agent_id="rag-agent")
    live = signals(fake_latest, "rag-agent")
    worst = min(live, key=lambda s: (SEVERITY_RANK[s["severity"]], -s["detected_at"]))
    assert [f"{cli_line(step)}  # {step.reason}" for step in result.next_steps] == [
        f"dunetrace signal {worst['id']}  # the fix for the newest {worst['severity']} {worst['failure_type']}",
        f"dunetrace run {worst['run_id'][:12]}  # what happened in that run, step by step",
        "dunetrace patterns rag-agent  # systemic failures and their daily trend",
        "dunetrace runs rag-agent --failing  # every failing run",
    ]


async def test_summary_of_a_clean_agent(api_client, fake) -> None:
    result = await summarize_agent(api_client(fake), agent_id="clean-agent")
    assert result.breakdown == [] and result.newest_signals == []
    assert (result.runs_total, result.failing_runs, result.clean_runs) == (12, 0, 12)
    assert [f"{cli_line(step)}  # {step.reason}" for step in result.next_steps] == [
        "dunetrace runs clean-agent  # no failures recorded: check the runs look complete"
    ]
    assert result.health.score is not None and result.health.score >= 80


async def test_summary_of_an_agent_with_two_runs(api_client, fake) -> None:
    result = await summarize_agent(api_client(fake), agent_id="onboarding-agent")
    assert result.runs_total == 2
    assert result.health.score is None


async def test_run_counts_come_from_insights_for_every_captured_agent(api_client, fake) -> None:
    """Insights' processed-run total and per-version failing runs equal the run list's counts on every agent."""
    from tests.queries._data import paths

    for agent in [a["agent_id"] for a in fake.data["agents"]]:
        fake.requests.clear()
        result = await summarize_agent(api_client(fake), agent_id=agent)
        rows = runs(fake, agent)
        assert (result.runs_total, result.failing_runs) == (len(rows), sum(1 for r in rows if r["has_signals"]))
        assert not any(p == f"/v1/agents/{agent}/runs" and q.get("limit") == "1" for _, p, q in fake.requests), agent
        assert f"/v1/agents/{agent}/insights" in paths(fake)
