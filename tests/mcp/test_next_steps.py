"""One next step on every face: the CLI table of `summary`, and the MCP text and structuredContent of
`summarize_agent`, name the same signal and the same run, for every agent in both server generations
(the steps are data on the query result; each face only phrases them, from the registry)."""

from __future__ import annotations

import re

import pytest

from dunetrace_cli.models.summary import AgentDiagnosis
from dunetrace_cli.registry import cli_line, mcp_call
from dunetrace_cli.render.tables import render
from tests.conftest import FIXED_NOW, settings_for
from tests.mcp.conftest import text_of

pytestmark = pytest.mark.anyio


def _table_text(diagnosis: AgentDiagnosis) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, color_system=None)
    console.print(render(diagnosis, 1_764_000_000.0))
    return console.export_text()


async def _diagnosis(fake, agent_id: str) -> AgentDiagnosis:
    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.queries.summary import summarize_agent

    async with ApiClient(settings_for(), transport=fake.transport(), clock=lambda: float(FIXED_NOW)) as client:
        return await summarize_agent(client, agent_id=agent_id)


@pytest.mark.parametrize("generation", ["latest", "march"])
async def test_every_agent_names_the_same_next_signal_and_run(mcp_client, fake_latest, fake_march, generation) -> None:
    fake = fake_latest if generation == "latest" else fake_march
    async with mcp_client(fake) as client:
        listing = (await client.call_tool("list_agents", {})).structured_content["agents"]
        agents = [row[listing["columns"].index("agent_id")] for row in listing["rows"]]
        assert len(agents) >= 6
        for agent in agents:
            result = await client.call_tool("summarize_agent", {"agent_id": agent})
            data, text = result.structured_content, text_of(result)
            table = _table_text(await _diagnosis(fake, agent))
            structured = " ".join(step["call"] for step in data["next_steps"])
            signal_ids = re.findall(r"get_signal_detail\(signal_id=(\d+)\)", structured)
            if not signal_ids:
                assert data["newest_signals"]["rows"] == [], agent
                assert "get_signal_detail" not in text and "dunetrace signal " not in table
                continue
            runs = re.findall(r'get_run_detail\(run_id="([^"]+)"\)', structured)
            assert re.findall(r"get_signal_detail\(signal_id=(\d+)\)", text) == signal_ids
            assert re.findall(r"dunetrace signal (\d+)", table) == signal_ids
            assert re.findall(r'get_run_detail\(run_id="([^"]+)"\)', text) == runs
            assert re.findall(r"dunetrace run (\S+)", table) == runs


def test_phrasing_comes_from_the_registry() -> None:
    from dunetrace_cli.models.common import NextStep

    step = NextStep(op="signals", args={"agent_id": "rag-agent", "since_hours": 24, "severity": "HIGH"})
    assert cli_line(step) == "dunetrace signals rag-agent --severity HIGH --since 24h"
    assert mcp_call(step) == 'search_signals(severity="HIGH", since_hours=24, agent_id="rag-agent")'
