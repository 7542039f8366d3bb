"""What a model reads stays bounded: per-result size on a 300-agent org, and each answer against upstream's.

Claude Code and Cursor forward structuredContent (as JSON), other clients the text: a result costs the
larger of the two. bench/mcp_budget.py prints every figure next to upstream dunetrace-mcp 0.4.7's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.mcp.conftest import LC, RUN_CLEAN, RUN_FULL

pytestmark = pytest.mark.anyio

MAX_RESULT_CHARS = 20_000
UPSTREAM = Path(__file__).resolve().parent.parent / "data" / "upstream-mcp-latest"

# One call per tool, the widest each can be asked for.
CALLS = [
    ("list_agents", {}),
    ("summarize_agent", {"agent_id": LC}),
    ("get_agent_health", {"agent_id": LC}),
    ("get_agent_patterns", {"agent_id": LC}),
    ("get_agent_runs", {"agent_id": LC, "limit": 100}),
    ("get_agent_signals", {"agent_id": LC, "limit": 100}),
    ("get_signal_detail", {"signal_id": 77}),
    ("search_signals", {"limit": 200}),
    ("get_run_detail", {"run_id": RUN_FULL}),
    ("get_instrumentation_guide", {"framework": "python"}),
    ("get_agent_token_stats", {"agent_id": LC}),
    ("compare_runs", {"run_id_1": RUN_FULL, "run_id_2": RUN_CLEAN}),
]

# The seed's calls against the latest fake, as upstream answered them (tests/data/upstream-mcp-latest).
SEED = [
    ("summarize_agent", {"agent_id": LC}),
    ("search_signals", {"severity": "HIGH", "since_hours": 24}),
    ("get_run_detail", {"run_id": RUN_FULL}),
    ("get_signal_detail", {"signal_id": 77}),
    ("list_agents", {}),
    ("get_agent_runs", {"agent_id": LC, "limit": 5}),
    ("get_agent_signals", {"agent_id": LC, "limit": 5, "severity": "HIGH"}),
    ("compare_runs", {"run_id_1": RUN_FULL, "run_id_2": RUN_CLEAN}),
]


def cost(result) -> int:
    text = "\n".join(block.text for block in result.content)
    return max(len(text), len(json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":"))))


async def test_no_result_over_the_cap_on_a_300_agent_org(mcp_client, make_fake) -> None:
    async with mcp_client(make_fake("latest", extra_agents=294)) as c:
        for tool, args in CALLS:
            r = await c.call_tool(tool, args)
            assert not r.is_error, (tool, r.content[0].text)
            assert cost(r) <= MAX_RESULT_CHARS, (tool, cost(r))
        agents = await c.call_tool("list_agents", {})
        signals = await c.call_tool("search_signals", {"limit": 200})
    # bounded lists still say how many there are
    assert agents.structured_content["page"]["total"] == 300
    assert len(agents.structured_content["agents"]["rows"]) < 300
    assert signals.structured_content["page"]["total"] > len(signals.structured_content["signals"]["rows"])


async def test_seed_calls_within_upstream_budget(mcp_client) -> None:
    """Each answer at most 1.25x upstream's text, all of them together at most upstream's."""
    ours = upstream = 0
    async with mcp_client() as c:
        for tool, args in SEED:
            r = await c.call_tool(tool, args)
            theirs = len((UPSTREAM / f"{tool}.txt").read_text(encoding="utf-8"))
            assert cost(r) <= 1.25 * theirs, (tool, cost(r), theirs)
            ours += cost(r)
            upstream += theirs
    assert ours <= upstream, (ours, upstream)
