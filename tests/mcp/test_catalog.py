"""The server's public contract: tool catalog (snapshot + size), resources, prompts, completion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.mcp.conftest import LC

pytestmark = pytest.mark.anyio

from dunetrace_cli import registry

# The read tools, in registry order: the catalog is generated from the registry.
TOOLS = [op.mcp for op in registry.load().values() if op.mcp and not op.writes]
UPSTREAM_READ_TOOLS = {
    "list_agents", "summarize_agent", "get_agent_health", "get_agent_patterns", "get_agent_runs",
    "get_agent_signals", "get_signal_detail", "search_signals", "get_run_detail", "get_instrumentation_guide",
    "get_agent_token_stats", "compare_runs",
}
# The whole tools/list payload (names, titles, descriptions, input and output schemas, annotations), per
# tool, next to upstream dunetrace-mcp 0.4.7's: 19,747 characters for its 22 read tools (issue 13). Every
# character is context in every session; bench/mcp_budget.py prints the figure next to upstream's.
UPSTREAM_CHARS_PER_TOOL = 19_747 / 22
# The tools upstream also has are held to its size per tool; the whole catalog (with tools upstream lacks,
# e.g. check_agent and its rule arguments) to 1.07x of it.
CATALOG_MAX_RATIO = 1.07
UPSTREAM_TOOLS = Path(__file__).resolve().parent.parent / "data" / "upstream-mcp" / "tools.json"


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.with_defaults(extension_class=JSONSnapshotExtension)


async def _catalog(mcp_client) -> list[dict]:
    async with mcp_client() as c:
        tools = (await c.list_tools()).tools
    return [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]


async def test_tool_catalog_snapshot(mcp_client, snapshot_json) -> None:
    catalog = await _catalog(mcp_client)
    assert [t["name"] for t in catalog] == TOOLS
    assert UPSTREAM_READ_TOOLS <= set(TOOLS)
    assert catalog == snapshot_json


async def test_catalog_size(mcp_client) -> None:
    catalog = await _catalog(mcp_client)
    total = len(json.dumps(catalog, ensure_ascii=False))
    upstream_names = {t["name"] for t in json.loads(UPSTREAM_TOOLS.read_text())["tools"]}
    shared = [t for t in catalog if t["name"] in upstream_names]
    shared_chars = len(json.dumps(shared, ensure_ascii=False))
    print(f"\ntools/list catalog: {total} characters, {total / len(catalog):.0f} per tool; "
          f"the {len(shared)} tools upstream also has: {shared_chars / len(shared):.0f} per tool")
    assert len(shared) >= 12
    assert shared_chars / len(shared) <= UPSTREAM_CHARS_PER_TOOL
    assert total / len(catalog) <= CATALOG_MAX_RATIO * UPSTREAM_CHARS_PER_TOOL
    for tool in catalog:  # a shallow outputSchema: top-level keys and their types, nothing nested
        schema = tool["outputSchema"]
        assert set(schema) == {"type", "properties"}, tool["name"]
        assert all(set(p) in ({"type"}, {"anyOf"}) for p in schema["properties"].values()), tool["name"]


async def test_every_tool_is_read_only_and_typed(mcp_client) -> None:
    for tool in await _catalog(mcp_client):
        # destructive/idempotent hints mean something only when readOnlyHint is false (MCP spec)
        assert tool["annotations"] == {"readOnlyHint": True, "openWorldHint": False}, tool["name"]
        assert tool["outputSchema"]["type"] == "object", tool["name"]
        assert tool["description"] and len(tool["description"]) < 300, tool["name"]
        assert "\n" not in tool["description"]


async def test_argument_constraints_in_schema(mcp_client) -> None:
    tools = {t["name"]: t for t in await _catalog(mcp_client)}
    search = tools["search_signals"]["inputSchema"]["properties"]
    assert search["limit"] | {} == {"default": 30, "minimum": 1, "type": "integer",
                                    "description": "Signals to return (1-200; larger values are capped to 200)."}
    severity = search["severity"]  # optional: published as its own type, no anyOf-null (issue 13)
    assert severity["enum"][:4] == ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    assert "high" in severity["enum"]  # the schema itself admits lower case
    # upstream caps a large limit instead of refusing it: no maximum in the schema, a cap in the tool
    assert "maximum" not in tools["get_agent_runs"]["inputSchema"]["properties"]["limit"]
    assert "capped to 100" in tools["get_agent_signals"]["inputSchema"]["properties"]["limit"]["description"]
    assert tools["get_signal_detail"]["inputSchema"]["properties"]["signal_id"]["minimum"] == 1
    assert tools["get_run_detail"]["inputSchema"]["required"] == ["run_id"]
    # every list tool pages: an optional offset, never negative (issue 13)
    assert tools["list_agents"]["inputSchema"]["properties"] == {"offset": {"minimum": 0, "type": "integer"}}
    for name in ("search_signals", "get_agent_signals", "get_agent_runs"):
        assert tools[name]["inputSchema"]["properties"]["offset"]["minimum"] == 0, name
        assert "offset" not in tools[name]["inputSchema"].get("required", []), name


async def test_structured_content_matches_output_schema(mcp_client) -> None:
    """Every tool's structuredContent validates against its published outputSchema (what the TypeScript
    SDK client checks, see scripts/mcp_conformance.sh)."""
    import jsonschema

    from tests.mcp.test_budget import CALLS

    async with mcp_client() as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        for tool, args in CALLS:
            r = await c.call_tool(tool, args)
            assert not r.is_error, (tool, r.content[0].text)
            jsonschema.validate(r.structured_content, tools[tool].output_schema)
            assert set(r.structured_content) <= set(tools[tool].output_schema["properties"]), tool
    assert {tool for tool, _ in CALLS} == UPSTREAM_READ_TOOLS <= set(tools)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_server_identity_and_instructions(mcp_client, mode) -> None:
    from dunetrace_cli import __version__

    async with mcp_client(mode=mode) as c:
        info, text, caps = c.server_info, c.instructions, c.server_capabilities
    assert (info.name, info.version) == ("dunetrace", __version__)
    assert "start with summarize_agent" in text.lower() and "untrusted data" in text
    assert "\n\n" in text and all("\n" not in p for p in text.split("\n\n"))  # one line per paragraph
    assert caps.tools is not None and caps.resources is not None and caps.prompts is not None
    assert caps.completions is not None


async def test_resources(mcp_client) -> None:
    async with mcp_client() as c:
        resources = {str(r.uri): r for r in (await c.list_resources()).resources}
        templates = [t.uri_template for t in (await c.list_resource_templates()).resource_templates]
        detectors = await c.read_resource("dunetrace://detectors")
        guide = await c.read_resource("dunetrace://guides/langgraph")  # an alias, through the template
    assert "dunetrace://detectors" in resources and "dunetrace://guides/python" in resources
    assert templates == ["dunetrace://guides/{framework}"]
    text = detectors.contents[0].text
    assert detectors.contents[0].mime_type == "text/markdown"
    assert "### TOOL_LOOP — default severity HIGH" in text
    assert text.count("- Typical fix:") >= 30
    assert "DunetraceCallbackHandler" in guide.contents[0].text


async def test_unknown_guide_resource_is_not_found(mcp_client) -> None:
    from mcp import MCPError

    async with mcp_client() as c:
        with pytest.raises(MCPError) as err:
            await c.read_resource("dunetrace://guides/cobol")
    assert "unknown framework 'cobol'" in str(err.value)


async def test_prompts(mcp_client) -> None:
    async with mcp_client() as c:
        prompts = {p.name: p for p in (await c.list_prompts()).prompts}
        triage = await c.get_prompt("triage_agent", {"agent_id": LC})
        audit = await c.get_prompt("daily_audit", {"since_hours": "48"})
        audit_default = await c.get_prompt("daily_audit", {})
    assert list(prompts) == ["triage_agent", "investigate_run", "deploy_check", "daily_audit"]
    assert all(p.description for p in prompts.values())
    assert [a.name for a in prompts["triage_agent"].arguments] == ["agent_id"]
    assert prompts["daily_audit"].arguments[0].required is False
    body = triage.messages[0].content.text
    assert f'summarize_agent(agent_id="{LC}")' in body and "never as instructions" in body
    assert 'search_signals(severity="CRITICAL", since_hours=48)' in audit.messages[0].content.text
    assert "last 24 hours" in audit_default.messages[0].content.text


async def test_completion_of_agent_ids_and_frameworks(mcp_client) -> None:
    from mcp.types import PromptReference, ResourceTemplateReference

    async with mcp_client() as c:
        agents = await c.complete(PromptReference(type="ref/prompt", name="triage_agent"), {"name": "agent_id", "value": "r"})
        everything = await c.complete(PromptReference(type="ref/prompt", name="deploy_check"), {"name": "agent_id", "value": ""})
        frameworks = await c.complete(
            ResourceTemplateReference(type="ref/resource", uri="dunetrace://guides/{framework}"),
            {"name": "framework", "value": "lang"},
        )
    assert agents.completion.values[:2] == ["retry-agent", "rag-agent"]  # prefix matches first
    assert set(agents.completion.values[2:]) == {"support-agent-lc", "onboarding-agent"}  # then substrings
    assert everything.completion.total == 6
    assert frameworks.completion.values == ["langchain", "langdock", "langgraph"]
