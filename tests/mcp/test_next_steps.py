"""One next step on every face: the CLI table, the MCP text and the MCP structuredContent of
`summary` / `summarize_agent` name the same signal and the same run, for every agent in both
server generations (the steps are data on the result; each face only phrases them)."""

from __future__ import annotations

import re

import pytest

from dunetrace_cli.models.summary import AgentDiagnosis
from dunetrace_cli.registry import cli_line, mcp_call
from dunetrace_cli.render.tables import render
from tests.mcp.conftest import text_of

pytestmark = pytest.mark.anyio


def _table_text(diagnosis: AgentDiagnosis) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, color_system=None)
    console.print(render(diagnosis, 1_764_000_000.0))
    return console.export_text()


@pytest.mark.parametrize("generation", ["latest", "march"])
async def test_every_agent_names_the_same_next_signal_and_run(mcp_client, fake_latest, fake_march, generation) -> None:
    fake = fake_latest if generation == "latest" else fake_march
    async with mcp_client(fake) as client:
        agents = (await client.call_tool("list_agents", {})).structured_content["agents"]
        assert len(agents) >= 6
        for agent in agents:
            result = await client.call_tool("summarize_agent", {"agent_id": agent["agent_id"]})
            data = result.structured_content
            steps = {s["op"]: s["args"] for s in data["next_steps"]}
            text = text_of(result)
            table = _table_text(AgentDiagnosis.model_validate(data))
            if "signal" not in steps:
                assert data["newest_signals"] == [], agent["agent_id"]
                assert "get_signal_detail" not in text and "dunetrace signal " not in table
                continue
            signal_id, run_prefix = steps["signal"]["signal_id"], steps["run"]["run_id"]
            assert re.findall(r"get_signal_detail\(signal_id=(\d+)\)", text) == [str(signal_id)]
            assert re.findall(r"dunetrace signal (\d+)", table) == [str(signal_id)]
            assert re.findall(r'get_run_detail\(run_id="([^"]+)"\)', text) == [run_prefix]
            assert re.findall(r"dunetrace run (\S+)", table) == [run_prefix]


def test_phrasing_comes_from_the_registry() -> None:
    from dunetrace_cli.models.common import NextStep

    step = NextStep(op="signals", args={"agent_id": "rag-agent", "since_hours": 24, "severity": "HIGH"})
    assert cli_line(step) == "dunetrace signals rag-agent --severity HIGH --since 24h"
    assert mcp_call(step) == 'search_signals(severity="HIGH", since_hours=24, agent_id="rag-agent")'
