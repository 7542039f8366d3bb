"""The insights fields `patterns` used to drop: deploy regressions first, cost, users, timing."""

from __future__ import annotations

import copy

import pytest
from rich.console import Console

from dunetrace_cli.queries.patterns import get_patterns
from dunetrace_cli.render.markdown import render_patterns
from dunetrace_cli.render.tables import render
from tests.conftest import FIXED_NOW

pytestmark = pytest.mark.anyio

# deploy_regression_check's shape (queries.py): rates over the 2 h either side, regression when delta > 0.15
REGRESSION = {
    "deploy_id": 7, "version": "v2.1.0", "deployed_at": 1795520940.0, "before_runs": 8, "before_signals": 1,
    "before_rate": 0.125, "after_runs": 8, "after_signals": 6, "after_rate": 0.75, "delta_rate": 0.625,
    "is_regression": True,
}
QUIET = {**REGRESSION, "deploy_id": 6, "version": "v2.0.9", "deployed_at": 1795520000.0, "after_signals": 1,
         "after_rate": 0.125, "delta_rate": 0.0, "is_regression": False}


def text(renderable) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def with_deploys(fake) -> None:
    body = copy.deepcopy(fake.data["insights"]["langchain-example-agent"])
    body["deploy_regressions"] = [QUIET, REGRESSION]
    body["deploy_events"] = [{"id": 7, "version": "v2.1.0", "deployed_at": 1795520940.0, "meta": {"git_sha": "abc"}}]
    body["user_impact"] = [{"failure_type": "TOOL_LOOP", "affected_users": 9, "total_users": 30, "user_impact_rate": 0.3}]
    fake.data["insights"] = {**fake.data["insights"], "langchain-example-agent": body}


async def test_regression_comes_first_on_both_faces(api_client, fake_latest) -> None:
    with_deploys(fake_latest)
    result = await get_patterns(api_client(fake_latest), agent_id="langchain-example-agent")
    assert [d.deploy_id for d in result.deploy_regressions] == [7, 6]  # the regression first
    assert result.cost_stats is not None and result.cost_stats.total_cost_usd == 0.8286
    assert result.user_impact[0].affected_users == 9 and result.time_to_tool.p50 == 3.0
    assert [h.hour_of_day for h in result.hourly_pattern] == [11] and len(result.failure_rates) == 6
    table = text(render(result, FIXED_NOW)).splitlines()
    assert table[1].startswith("REGRESSION: deploy of v2.1.0 at 2026-11-24 11:49:00 UTC raised the signal rate from 12% (1/8 runs) to 75%")
    assert any(line.startswith("Deploys without a regression: v2.0.9 (12% → 12%)") for line in table)
    assert any("Cost (30 days): $0.8286, of which $0.6109 (73.7%) on runs with a failure" in line for line in table)
    # the MCP text (rendered from the compact view, issue 13): the regression first, deploys and cost;
    # users affected and timing stay in the CLI table and --json
    md = render_patterns(result, now=FIXED_NOW).splitlines()
    assert md[1].startswith("⚠ **Regression after a deploy:** deploy of v2.1.0")
    assert any(line.startswith("Deploys: deploys without a regression: v2.0.9 0.12 -> 0.12") for line in md)
    assert any("cost (30 days): $0.8286, $0.6109 (73.7%) on failing runs" in line for line in md)


async def test_march_insights_have_only_timing(api_client, fake_march) -> None:
    result = await get_patterns(api_client(fake_march), agent_id="langchain-example-agent")
    assert result.deploy_regressions == [] and result.cost_stats is None and result.user_impact == []
    assert result.time_to_tool is not None and result.hourly_pattern
    shown = text(render(result, FIXED_NOW))
    assert "REGRESSION" not in shown and "Cost (30 days)" not in shown and "Time to first tool" in shown


async def test_summary_leads_with_the_regression_and_states_the_cost(api_client, fake_latest) -> None:
    from dunetrace_cli.queries.summary import summarize_agent
    from dunetrace_cli.render.markdown import render_diagnosis

    with_deploys(fake_latest)
    result = await summarize_agent(api_client(fake_latest), agent_id="langchain-example-agent")
    assert [d.deploy_id for d in result.deploy_regressions] == [7]  # only the regression
    table = text(render(result, FIXED_NOW)).splitlines()
    assert table[1].startswith("REGRESSION: deploy of v2.1.0")
    assert any(line.startswith("Cost (30 days): $0.8286, of which $0.6109 (73.7%)") for line in table)
    md = render_diagnosis(result, now=FIXED_NOW).splitlines()
    assert md[1].startswith("⚠ **Regression after a deploy:** deploy of v2.1.0")


async def test_summary_on_march_has_neither(api_client, fake_march) -> None:
    from dunetrace_cli.queries.summary import summarize_agent

    result = await summarize_agent(api_client(fake_march), agent_id="langchain-example-agent")
    assert result.deploy_regressions == [] and result.cost_stats is None
