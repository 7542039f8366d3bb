"""The fault matrix: a loopback server answers each failure mode; the CLI and an MCP tool each give one
sentence (and the CLI a documented exit code) within ``--timeout`` plus one second; no traceback, no key.

The server is ``tests/faultserver.py``; ``bench/faults.py`` re-runs the same matrix with subprocess timings.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.faultserver import FaultServer, fault_server, refused_url

pytestmark = pytest.mark.slow

TIMEOUT = 1.0
# Each run must end within --timeout + 1 s. On a starved machine (9 agents on 2 cores) a process can lose
# a second or two of CPU, so the test allows SLACK more: still far below the old behaviour (a dripping
# server held the CLI for 64 s). bench/faults.py prints the real figures next to the budget.
SLACK = 2.0
KEY = "dt_live_FAULTMATRIXKEY0042"
PASSWORD = "pw-FAULTMATRIX-0042"
REFUSED = refused_url()

# mode -> (exit code, the sentence starts with). The README's exit-code table documents each code.
MATRIX: dict[str, tuple[int, str]] = {
    "drip": (5, "Dunetrace Customer API at {base} did not answer within 1s ("),
    "hang": (5, "Dunetrace Customer API at {base} did not answer within 1s. The limit covers connecting and reading"),
    "truncated": (5, "the connection to {base} dropped mid-response (100 bytes of /v1/agents arrived, 3 tries)."),
    "huge": (5, "the response for {base}/v1/agents is larger than the 16 MiB response-size limit"),
    "huge-declared": (5, "the response for {base}/v1/agents is larger than the 16 MiB response-size limit"),
    "redirect": (3, "{base}/v1/agents redirects (HTTP 302) to http://localhost:{port}/steal/v1/agents (on another host);"),
    "r429-seconds": (5, "rate limited; the server asks to retry in 1 s (HTTP 429 from {base}), beyond"),
    "r429-3600": (5, "rate limited; the server asks to retry in 60 min (HTTP 429 from {base}), beyond"),
    "r429-date": (5, "rate limited; the server asks to retry in 2 h (HTTP 429 from {base}), beyond"),
    "s401": (3, "The Dunetrace API at {base} rejected the API key (HTTP 401: Invalid or inactive API key)."),
    "s403": (3, "The Dunetrace API at {base} rejected the API key (HTTP 403: Forbidden)."),
    "s404": (4, "The API at {base} has no route /v1/agents (HTTP 404)."),
    "s422": (2, "The Dunetrace API rejected the request: limit: Input should be less than or equal to 500."),
    "s500": (5, "The Dunetrace API at {base} failed with HTTP 500 (Internal Server Error)."),
    "s502": (5, "The Dunetrace API at {base} failed with HTTP 502 (Bad Gateway)."),
    "s503": (5, "The Dunetrace API at {base} failed with HTTP 503 (Service Unavailable)."),
    "bad-json": (5, "The Dunetrace Customer API returned a malformed response for {base}/v1/agents (not JSON)."),
    "html": (5, "The Dunetrace Customer API returned a malformed response for {base}/v1/agents (text/html, not JSON)."),
    "garbage": (5, "{base} answered with something that is not HTTP."),
    "refused": (5, "Dunetrace Customer API unreachable at {base}. Is the backend running"),
    "tls": (5, "the TLS handshake with {base} failed. If that server speaks plain HTTP, use an http:// URL"),
}


@pytest.fixture(scope="module")
def server() -> Any:
    with fault_server() as srv:
        srv.redirect_to = f"http://localhost:{srv.port}/steal/v1/agents"
        yield srv


def urls_for(server: FaultServer, mode: str) -> tuple[str, str]:
    """(the URL the command is given, the URL its sentences must show)."""
    if mode == "refused":
        return REFUSED, REFUSED
    if mode == "tls":
        url = server.url("ok").replace("http://", "https://")
        return url, url
    return server.url(mode, userinfo=f"ops:{PASSWORD}"), server.url(mode, userinfo="****")


def expected(server: FaultServer, mode: str, shown: str) -> tuple[int, str]:
    code, start = MATRIX[mode]
    return code, start.format(base=shown, port=server.port)


def assert_clean(text: str) -> None:
    assert "Traceback" not in text
    assert KEY not in text and PASSWORD not in text
    assert "httpx" not in text and "Error:" not in text.replace("Error executing tool", "")


@pytest.mark.parametrize("mode", list(MATRIX))
def test_cli_one_sentence_and_exit_code_within_the_timeout(server: FaultServer, invoke, mode: str) -> None:
    url, shown = urls_for(server, mode)
    code, start = expected(server, mode, shown)
    began = time.monotonic()
    result = invoke(["--timeout", TIMEOUT, "--api-url", url, "agents"], env={"DUNETRACE_API_KEY": KEY})
    took = time.monotonic() - began
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one sentence, nothing else
    assert lines[0].startswith("dunetrace: error: " + start), lines[0]
    assert_clean(result.stderr)
    assert took < TIMEOUT + 1 + SLACK, f"{mode} took {took:.2f}s"


@pytest.mark.anyio
async def test_mcp_tool_error_within_the_timeout(server: FaultServer) -> None:
    """One MCP server over ``/m/current`` answers the modes in turn (refused and TLS need their own URLs)."""
    from mcp import Client

    from dunetrace_cli.mcp.server import build_server
    from tests.conftest import settings_for

    async def call(url: str) -> tuple[Any, float]:
        began = time.monotonic()
        result = await client.call_tool("list_agents", {})
        return result, time.monotonic() - began

    outcomes: dict[str, tuple[Any, float]] = {}
    shared = server.url("current", userinfo=f"ops:{PASSWORD}")
    async with Client(build_server(settings_for(shared, api_key=KEY, timeout=TIMEOUT))) as client:  # type: ignore[arg-type]
        for mode in MATRIX:
            if mode in ("refused", "tls"):
                continue
            server.current_mode = mode
            outcomes[mode] = await call(shared)
    server.current_mode = "ok"
    for mode in ("refused", "tls"):
        url, _ = urls_for(server, mode)
        async with Client(build_server(settings_for(url, api_key=KEY, timeout=TIMEOUT))) as client:  # type: ignore[arg-type]
            outcomes[mode] = await call(url)

    for mode, (result, took) in outcomes.items():
        shown = server.url("current", userinfo="****") if mode not in ("refused", "tls") else urls_for(server, mode)[1]
        _, start = expected(server, mode, shown)
        assert result.is_error and result.structured_content is None, mode
        (block,) = result.content
        assert block.text.startswith("Error executing tool list_agents: " + start), (mode, block.text)
        assert "\n" not in block.text.strip(), mode
        assert_clean(block.text)
        assert took < TIMEOUT + 1 + SLACK, f"{mode} took {took:.2f}s"
    assert set(outcomes) == set(MATRIX)


def test_the_redirect_target_never_saw_a_request(server: FaultServer, invoke) -> None:
    url, _ = urls_for(server, "redirect")
    before = len(server.requests)
    result = invoke(["--timeout", TIMEOUT, "--api-url", url, "agents"], env={"DUNETRACE_API_KEY": KEY})
    assert result.exit_code == 3
    seen = [line for line, _ in server.requests[before:]]
    assert len(seen) == 1 and seen[0].startswith("GET /m/redirect/v1/agents")
    assert not any("/steal" in line for line, _ in server.requests)


def test_every_mode_is_documented_with_its_exit_code() -> None:
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1].joinpath("README.md").read_text(encoding="utf-8")
    table = readme.split("### Exit codes", 1)[1].split("\n\n", 2)[1]
    documented = {int(row.split("|")[1]) for row in table.splitlines() if row.startswith("| ") and row[2].isdigit()}
    assert {code for code, _ in MATRIX.values()} <= documented
    for phrase in ("redirect", "dropped mid-response", "rate limited", "response-size limit", "timed out"):
        assert phrase in table, phrase
