"""Failures come back as tool errors (isError) carrying the CLI's one-sentence message, nothing internal."""

from __future__ import annotations

import httpx
import pytest

from tests.faultserver import refused_url
from tests.mcp.conftest import LC, text_of, with_ambiguous_run

pytestmark = pytest.mark.anyio


def _error(result, tool: str) -> str:
    assert result.is_error, text_of(result)
    assert result.structured_content is None
    text = text_of(result)
    prefix = f"Error executing tool {tool}: "
    assert text.startswith(prefix), text
    return text[len(prefix):]


async def test_backend_down(mcp_client) -> None:
    url = refused_url()
    from mcp import Client

    from dunetrace_cli.mcp.server import build_server
    from tests.conftest import settings_for

    async with Client(build_server(settings_for(url))) as c:  # real sockets, nothing listening
        r = await c.call_tool("list_agents", {})
    message = _error(r, "list_agents")
    assert message.startswith(f"Dunetrace Customer API unreachable at {url}. Is the backend running")
    assert "Traceback" not in message and "ConnectError" not in message


async def test_auth_rejected(mcp_client, make_fake) -> None:
    fake = make_fake("latest", api_key="dt_live_right")
    async with mcp_client(fake, api_key="dt_live_wrong") as c:
        r = await c.call_tool("summarize_agent", {"agent_id": LC})
    message = _error(r, "summarize_agent")
    assert message.startswith("The Dunetrace API at http://fake.test rejected the API key (HTTP 401: Invalid or inactive API key).")
    assert "DUNETRACE_API_KEY" in message


async def test_unknown_agent_with_suggestion(mcp_client) -> None:
    async with mcp_client() as c:
        results = [await c.call_tool(tool, {"agent_id": "langchain-agent"}) for tool in
                   ("summarize_agent", "get_agent_health", "get_agent_runs", "get_agent_token_stats")]
    for tool, r in zip(("summarize_agent", "get_agent_health", "get_agent_runs", "get_agent_token_stats"), results, strict=True):
        message = _error(r, tool)
        assert message.startswith("no agent 'langchain-agent' (known: retry-agent, langchain-example-agent")
        assert "did you mean 'langchain-example-agent'?" in message


async def test_ambiguous_run_prefix_lists_candidates(mcp_client, make_fake, datasets) -> None:
    fake = make_fake("latest", dataset=with_ambiguous_run(datasets["latest"]))
    async with mcp_client(fake) as c:
        r = await c.call_tool("get_run_detail", {"run_id": "f32094eb"})
        ok = await c.call_tool("get_run_detail", {"run_id": "f32094eb-c4"})
    message = _error(r, "get_run_detail")
    assert message == (
        "run prefix 'f32094eb' matches 2 runs: f32094eb-0000-4000-8000-000000000000, "
        "f32094eb-c4aa-4cff-abd9-932921edb15c. Give more characters."
    )
    assert not ok.is_error and ok.structured_content["run_id"].startswith("f32094eb-c4aa")


async def test_unknown_run_and_signal(mcp_client) -> None:
    async with mcp_client() as c:
        run = await c.call_tool("get_run_detail", {"run_id": "deadbeef-0000"})
        sig = await c.call_tool("get_signal_detail", {"signal_id": 99999})
    assert _error(run, "get_run_detail").startswith("no run matches 'deadbeef-0000' among 104 processed runs of all agents.")
    assert _error(sig, "get_signal_detail").startswith("no signal 99999 among")


async def test_unknown_framework(mcp_client) -> None:
    async with mcp_client() as c:
        r = await c.call_tool("get_instrumentation_guide", {"framework": "langchian"})
    message = _error(r, "get_instrumentation_guide")
    assert message.startswith("unknown framework 'langchian'. Valid: python, langchain,")
    assert "Did you mean 'langchain'?" in message


async def test_unexpected_exception_is_curated(mcp_client, caplog) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("secret internal detail /etc/passwd")

    async with mcp_client(transport=httpx.MockTransport(explode)) as c:
        r = await c.call_tool("list_agents", {})
    message = _error(r, "list_agents")
    assert message.startswith("dunetrace-cli hit an internal error while answering this call")
    assert "secret" not in message and "RuntimeError" not in message


async def test_timeout(served) -> None:
    from mcp import Client

    from dunetrace_cli.mcp.server import build_server
    from tests.conftest import settings_for

    url, _ = served("latest", latency=0.5)  # real HTTP: timeouts only apply to real transports
    async with Client(build_server(settings_for(url, timeout=0.1))) as c:
        r = await c.call_tool("list_agents", {})
    assert _error(r, "list_agents").startswith(f"Dunetrace Customer API at {url} did not answer within 0.1s.")


@pytest.mark.parametrize(
    ("tool", "args", "sentence"),
    [
        ("search_signals", {"severity": "SEVERE"},
         "`severity` must be one of CRITICAL, HIGH, MEDIUM, LOW (any case) (got 'SEVERE')."),
        ("get_agent_runs", {"agent_id": LC, "limit": 0}, "`limit` must be an integer of at least 1 (got 0)."),
        ("search_signals", {"since_hours": 0}, "`since_hours` must be an integer from 1 to 8760 (got 0)."),
        ("get_signal_detail", {"signal_id": 0}, "`signal_id` must be an integer of at least 1 (got 0)."),
        ("get_signal_detail", {"signal_id": "abc"}, "`signal_id` must be an integer of at least 1 (got 'abc')."),
        ("summarize_agent", {}, "`agent_id` is required: Agent id (list_agents)."),
    ],
)
async def test_argument_errors_are_one_sentence(mcp_client, tool, args, sentence) -> None:
    async with mcp_client() as c:
        r = await c.call_tool(tool, args)
    message = _error(r, tool)
    assert message == sentence
    assert "pydantic" not in message and "\n" not in message
    assert not c.fake.requests  # rejected before any backend call


@pytest.mark.parametrize(
    ("tool", "args", "fragment"),
    [
        ("search_signals", {"failure_type": "tool loop; drop"}, "unknown failure type"),
        ("get_run_detail", {"run_id": "f3"}, "run_id"),
        ("summarize_agent", {"agent_id": ""}, "agent_id"),
    ],
)
async def test_argument_validation(mcp_client, tool, args, fragment) -> None:
    async with mcp_client() as c:
        r = await c.call_tool(tool, args)
    message = _error(r, tool)
    assert fragment in message and "errors.pydantic.dev" not in message
    assert not c.fake.requests  # rejected before any backend call


async def test_unknown_failure_type_is_an_error_with_a_suggestion(mcp_client) -> None:
    async with mcp_client() as c:
        r = await c.call_tool("search_signals", {"failure_type": "TOOL_LOOPS"})
    message = _error(r, "search_signals")
    assert message.startswith("unknown failure type 'TOOL_LOOPS'. Did you mean TOOL_LOOP?")


async def test_not_found_names_mcp_tools_not_shell_commands(mcp_client) -> None:
    async with mcp_client() as c:
        r = await c.call_tool("get_run_detail", {"run_id": "00000000-0000"})
    message = _error(r, "get_run_detail")
    assert message.startswith("no run matches '00000000-0000'")
    assert "dunetrace runs" not in message and "`get_agent_runs`" in message


async def test_unknown_prompt_is_a_clean_protocol_error(mcp_client, caplog) -> None:
    from mcp import MCPError

    async with mcp_client() as c:
        with pytest.raises(MCPError) as unknown:
            await c.get_prompt("nope", {})
        with pytest.raises(MCPError) as missing:
            await c.get_prompt("triage_agent", {})
    assert str(unknown.value) == (
        "no prompt named 'nope'; the prompts are: triage_agent, investigate_run, deploy_check, daily_audit."
    )
    assert str(missing.value) == "prompt 'triage_agent' needs the argument agent_id."
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("severity", ["critical", "Critical", "CRITICAL", " critical "])
async def test_severity_any_case(mcp_client, severity) -> None:
    async with mcp_client() as c:
        r = await c.call_tool("search_signals", {"severity": severity, "limit": 10})
    assert not r.is_error, text_of(r)
    data = r.structured_content
    assert data["filters"]["severity"] == "CRITICAL"
    assert data["page"]["total"] == 3 == len(data["signals"]["rows"])
    column = data["signals"]["columns"].index("severity")
    assert {row[column] for row in data["signals"]["rows"]} == {"CRITICAL"}


async def test_blank_optional_agent_means_all_agents(mcp_client) -> None:
    """Upstream clients send agent_id="" for "not given"."""
    async with mcp_client() as c:
        r = await c.call_tool("get_signal_detail", {"signal_id": 77, "agent_id": ""})
    assert not r.is_error, text_of(r)
    assert r.structured_content["agent_id"] == "retry-agent"
