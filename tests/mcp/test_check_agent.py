"""The check_agent MCP tool: the deploy gate's rules, its verdict as data and as a PR-style text."""

from __future__ import annotations

import pytest

from tests.mcp.conftest import LC, text_of

pytestmark = pytest.mark.anyio


async def test_check_agent_fails_with_reasons(mcp_client) -> None:
    async with mcp_client() as c:
        r = await c.call_tool("check_agent", {"agent_id": LC, "min_score": 70, "no_systemic": True,
                                              "max_severity": "high", "max_failure_rate": 0.2})
    assert not r.is_error
    data = r.structured_content
    assert (data["verdict"], data["exit_code"], data["passed"]) == ("fail", 1, False)
    rules = {x["rule"]: x for x in data["agents"][0]["rules"]}
    assert rules["min_score"]["value"] == 65 and rules["min_score"]["verdict"] == "fail"
    assert rules["no_systemic"]["value"] == ["CONTEXT_BLOAT", "TOOL_LOOP"]
    assert rules["max_severity"]["observed"] == "3 CRITICAL"
    assert rules["max_failure_rate"]["observed"] == "40% (16 of 40 runs)"
    text = text_of(r)
    assert text.startswith(f"### ❌ Deploy gate failed: `{LC}`")
    assert "| health score | 65 | ≥ 70 | ❌ fail |" in text
    assert [(s["op"], s["args"]) for s in data["next_steps"]] == [
        ("summary", {"agent_id": LC}), ("patterns", {"agent_id": LC}), ("signal", {"signal_id": 87}),
        ("runs", {"agent_id": LC, "failing": True}),
    ]
    assert "Next: call get_signal_detail(signal_id=87) — the fix for the worst signal in the window" in text
    assert f'Next: call get_agent_runs(agent_id="{LC}")' in text


async def test_check_agent_passes_and_uses_since_hours(mcp_client) -> None:
    async with mcp_client() as c:
        r = await c.call_tool("check_agent", {"agent_id": "clean-agent", "min_score": 90, "max_severity": "LOW",
                                              "since_hours": 48, "no_regression": True})
    data = r.structured_content
    assert data["verdict"] == "pass" and data["rules"]["window"] == "2d"
    assert text_of(r).startswith("### ✅ Deploy gate passed: `clean-agent`")


async def test_check_agent_errors_are_tool_errors(mcp_client) -> None:
    async with mcp_client() as c:
        none = await c.call_tool("check_agent", {"agent_id": LC})
        ghost = await c.call_tool("check_agent", {"agent_id": "ghost", "min_score": 1})
    assert none.is_error and "no rules to check" in text_of(none) and "--" not in text_of(none)
    assert ghost.is_error and "no agent 'ghost'" in text_of(ghost)
