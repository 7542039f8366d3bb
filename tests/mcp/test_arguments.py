"""Arguments generated from the registry's params: any case of a choice reaches the query in its declared spelling."""

from __future__ import annotations

import pytest

from tests.mcp.conftest import LC, text_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("tool", "args", "heading"), [
    ("list_agent_issues", {"agent_id": LC, "status": "all"}, "# Issues (all)"),
    ("list_agent_issues", {"agent_id": LC, "status": "ALL"}, "# Issues (all)"),
    ("search_issues", {"status": "Reopened"}, "# Issues (reopened)"),
    ("search_signals", {"severity": "High"}, "severity=`HIGH`"),
])
async def test_any_case_of_a_choice_is_accepted(mcp_client, tool, args, heading) -> None:
    async with mcp_client() as client:
        result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    assert heading in text_of(result)


async def test_a_choice_outside_the_list_is_refused(mcp_client) -> None:
    async with mcp_client() as client:
        result = await client.call_tool("list_agent_issues", {"agent_id": LC, "status": "closed"})
    assert result.is_error
    assert "status" in text_of(result)
