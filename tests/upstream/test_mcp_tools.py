"""The upstream tool names over a real in-memory MCP client: reads on both generations, opt-in writes,
annotations, elicitation before deletes and resolve."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from mcp import types as mt

from tests.conftest import settings_for

pytestmark = pytest.mark.anyio

SHARED = Path("/work/shared/fixtures/upstream-mcp")
READS = {
    "list_agent_issues": {"agent_id": "langchain-example-agent"},
    "search_issues": {"query": "loop"},
    "get_issue": {"issue_id": 13},
    "get_fix_status": {"signal_id": 23, "agent_id": "langchain-example-agent"},
    "list_agent_fixes": {"agent_id": "langchain-example-agent"},
    "get_failure_pattern_detail": {"agent_id": "langchain-example-agent", "failure_type": "tool_loop"},
    "list_voice_calls": {},
    "get_call_detail": {"conversation_id": 1},
    "list_policies": {},
    "list_custom_detectors": {},
}
WRITES = {
    "trigger_explain", "create_policy", "toggle_policy", "delete_policy", "create_custom_detector",
    "activate_custom_detector", "pause_custom_detector", "delete_custom_detector", "resolve_issue",
}
DESTRUCTIVE = {"delete_policy", "delete_custom_detector", "resolve_issue"}


@contextlib.asynccontextmanager
async def session(fake, *, writes: bool = False, elicit: Any = None, mode: str = "auto"):
    from mcp import Client  # imported late, like tests/mcp/conftest.py (test_sdk_mismatch swaps the SDK out)

    from dunetrace_cli.mcp.server import build_server

    server = build_server(settings_for(), transport=fake.transport(), allow_writes=writes)
    async with Client(server, mode=mode, elicitation_callback=elicit) as client:  # type: ignore[arg-type]
        yield client


def text(result) -> str:
    return result.content[0].text


async def test_default_catalog_has_every_upstream_read_tool_and_no_write(fake_latest) -> None:
    upstream = {t["name"] for t in json.loads((SHARED / "tools.json").read_text())["tools"]}
    async with session(fake_latest) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert upstream <= names and len(upstream) == 22
    assert not names & WRITES


async def test_allow_writes_registers_the_nine_with_annotations(fake_latest) -> None:
    async with session(fake_latest, writes=True) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert WRITES <= set(tools)
    for name in WRITES:
        hints = tools[name].annotations
        assert hints.read_only_hint is False and hints.destructive_hint is (name in DESTRUCTIVE), name
    toggle = tools["toggle_policy"].input_schema
    assert set(toggle["required"]) == {"policy_id", "enabled"} and toggle["properties"]["enabled"]["type"] == "boolean"


@pytest.mark.parametrize("tool", sorted(READS))
async def test_march_answers_a_sentence_not_a_traceback(fake_march, tool) -> None:
    async with session(fake_march) as client:
        result = await client.call_tool(tool, READS[tool])
    assert result.is_error is True
    assert "this Dunetrace server has no" in text(result) and "upgrade the backend" in text(result)
    assert "Traceback" not in text(result)


@pytest.mark.parametrize("tool", sorted(set(READS) - {"get_call_detail"}))
async def test_latest_answers_every_read_tool(fake_latest, tool) -> None:
    async with session(fake_latest) as client:
        result = await client.call_tool(tool, READS[tool])
    assert result.is_error is False, text(result)
    assert result.structured_content is not None


async def test_reads_carry_the_data(fake_latest) -> None:
    async with session(fake_latest) as client:
        issues = await client.call_tool("list_agent_issues", {"agent_id": "langchain-example-agent", "status": "all"})
        detail = await client.call_tool("get_failure_pattern_detail",
                                        {"agent_id": "langchain-example-agent", "failure_type": "tool_loop"})
        capped = await client.call_tool("list_voice_calls", {"limit": 150})
        missing = await client.call_tool("get_call_detail", {"conversation_id": 1})
    table = issues.structured_content["issues"]  # the MCP view: a compact, paged table (issue 13)
    types = {row[table["columns"].index("failure_type")] for row in table["rows"]}
    assert types >= {"TOOL_LOOP", "CONTEXT_BLOAT"}
    assert "|13|reopened|TOOL_LOOP|" in text(issues)
    assert detail.structured_content["overview"]["affected_runs"] == 13
    assert text(detail).startswith("# TOOL_LOOP on `langchain-example-agent`: 13 of 40 runs (32.5%)")
    assert capped.structured_content["page"] == {"total": 0, "offset": 0}  # upstream's cap, said not refused
    assert "limit capped at 100 (asked for 150)" in text(capped) or "capped" in json.dumps(capped.structured_content)
    assert missing.is_error and text(missing).endswith(": Call 1 not found or has no runs.")


async def test_upstream_status_all_is_every_status(fake_latest) -> None:
    async with session(fake_latest) as client:
        result = await client.call_tool("list_agent_issues", {"agent_id": "retry-agent", "status": "all"})
    assert result.structured_content["page"]["total"] == 7  # upstream sends status=all and gets []


async def test_resolve_asks_first_and_a_decline_changes_nothing(fake_latest) -> None:
    asked: list[str] = []

    async def decline(context, params: mt.ElicitRequestParams):
        asked.append(params.message)
        return mt.ElicitResult(action="decline")

    async with session(fake_latest, writes=True, elicit=decline, mode="legacy") as client:
        result = await client.call_tool("resolve_issue", {"issue_id": 13, "resolution_notes": "capped retries"})
    if not asked:
        pytest.skip("this MCP SDK connection offers no elicitation back-channel")
    assert "Resolve an issue (issue_id=13" in asked[0] and "cannot be undone" in asked[0]
    assert result.is_error and text(result).endswith(": not confirmed by the user: nothing was changed.")
    assert fake_latest.issue_overrides == {}


async def test_resolve_goes_ahead_when_accepted(fake_latest) -> None:
    async def accept(context, params):
        return mt.ElicitResult(action="accept", content={"confirm": True})

    async with session(fake_latest, writes=True, elicit=accept, mode="legacy") as client:
        result = await client.call_tool("resolve_issue", {"issue_id": 13, "resolution_notes": "capped retries"})
    assert result.is_error is False, text(result)
    assert fake_latest.issue_overrides[13]["resolution_notes"] == "capped retries"


async def test_without_elicitation_the_result_says_so(fake_latest) -> None:
    fake_latest.policies.append({"id": 1, "agent_id": "*", "name": "p", "condition": {"trigger": "step_count"},
                                 "action": {"type": "log"}, "enabled": True, "priority": 100, "signature": "",
                                 "sig_version": 1, "created_at": 1.0, "updated_at": 1.0})
    async with session(fake_latest, writes=True) as client:
        result = await client.call_tool("delete_policy", {"policy_id": "1"})
    assert result.is_error is False and fake_latest.policies == []
    assert "cannot ask for confirmation (no MCP elicitation support)" in text(result) + json.dumps(result.structured_content)


async def test_create_policy_bad_json_is_a_tool_error_before_any_request(fake_latest) -> None:
    async with session(fake_latest, writes=True) as client:
        fake_latest.requests.clear()
        result = await client.call_tool("create_policy", {"name": "x", "agent_id": "*", "condition": "{nope",
                                                          "action": '{"type": "stop"}'})
    assert result.is_error and "the policy condition is not valid JSON" in text(result)
    assert [r for r in fake_latest.requests if r[1] == "/v1/policies"] == []


async def test_toggle_policy_respects_enabled(fake_latest) -> None:
    async with session(fake_latest, writes=True) as client:
        made = await client.call_tool("create_policy", {
            "name": "guard", "agent_id": "rag-agent",
            "condition": '{"trigger": "tool_call_count", "operator": "gt", "value": 10}', "action": '{"type": "stop"}',
        })
        assert made.is_error is False, text(made)
        same = await client.call_tool("toggle_policy", {"policy_id": "1", "enabled": True})
        off = await client.call_tool("toggle_policy", {"policy_id": "1", "enabled": False})
    assert same.structured_content["changed"] is False  # upstream would have flipped it off
    assert off.structured_content["changed"] is True and fake_latest.policies[0]["enabled"] is False


async def test_upstream_resource_uris_answer(fake_latest) -> None:
    upstream = [r["uri"] for r in json.loads((SHARED / "resources.json").read_text())]
    assert len(upstream) == 8
    async with session(fake_latest) as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        assert set(upstream) <= listed
        python = await client.read_resource("dunetrace://docs/integrate-python")
        tools = await client.read_resource("dunetrace://docs/mcp-server")
    assert python.contents[0].text.startswith("#")
    assert "`resolve_issue`" in tools.contents[0].text and "(write tool: opt-in)" in tools.contents[0].text


async def test_upstream_blank_arguments_mean_not_given(fake_latest) -> None:
    async with session(fake_latest) as client:
        result = await client.call_tool(
            "search_issues", {"query": "", "status": "", "agent_id": "", "failure_type": "", "limit": 20}
        )
    assert result.is_error is False, text(result)
    data = result.structured_content
    assert data["filters"] == {"status": "all"} and data["page"] == {"total": 21, "offset": 0, "next_offset": 20}
