"""MCP tool-call latency over stdio: `dunetrace mcp serve` vs a sequential upstream-style server.

Both servers run as stdio subprocesses driven by the same MCP client, against one loopback fake
Customer API with 20 ms injected latency per request and 300 extra agents (306 in all):

* **dunetrace-cli**: `dunetrace mcp serve` (the query layer: every agent page, org-wide
  /v1/signals when the server has it, bounded concurrent fan-out otherwise).
* **sequential**: a small MCP server in this file (`--serve-sequential`) that makes the calls the
  way upstream dunetrace-mcp 0.4.7 does (customer-api.md §E.2-E.4): one request at a time, a new
  sync httpx client per request, the first page of 100 agents only, per-agent signal scans
  (200 a page for search, one 500-row page per agent for a signal lookup).

For each tool: median wall time of N calls (after one warm-up call) and the requests each call
made (from the fake's request log). Run from the repo root::

    python bench/mcp_latency.py [--calls 5] [--latency 0.02] [--agents 300] [--generation latest|march]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

UPSTREAM_AGENT_PAGE = 100
DEEP_AGENT = "synthetic-agent-0199"  # beyond upstream's first page of 100 agents


# --------------------------------------------------------------------------- the sequential server


def serve_sequential() -> None:
    """A stdio MCP server doing upstream's request pattern, sequentially (text results)."""
    import httpx
    from mcp.server.mcpserver import MCPServer

    base = os.environ.get("DUNETRACE_API_URL", "http://localhost:8002").rstrip("/")
    key = os.environ.get("DUNETRACE_API_KEY", "dt_dev_test")

    def get(path: str, params: dict[str, Any] | None = None) -> Any:
        with httpx.Client(timeout=15.0) as client:  # upstream: a new client per request
            response = client.get(f"{base}{path}", params=params, headers={"Authorization": f"Bearer {key}"})
            response.raise_for_status()
            return response.json()

    def agents() -> list[dict[str, Any]]:
        return get("/v1/agents", {"limit": UPSTREAM_AGENT_PAGE})["agents"]

    server = MCPServer("sequential")

    @server.tool()
    def list_agents() -> str:
        """First page of agents."""
        rows = agents()
        return "\n".join(f"{a['agent_id']} {a['run_count']} {a['signal_count']}" for a in rows)

    @server.tool()
    def search_signals(severity: str | None = None, limit: int = 30) -> str:
        """Every agent of the first page, one after the other, 200 signals a page."""
        found: list[dict[str, Any]] = []
        for agent in agents():
            offset = 0
            while offset < 5000:
                params: dict[str, Any] = {"limit": 200, "offset": offset, "include_shadow": "false"}
                if severity:
                    params["severity"] = severity.upper()
                body = get(f"/v1/agents/{agent['agent_id']}/signals", params)
                rows = body.get("signals") or []
                found += rows
                offset += len(rows)
                if not rows or not body.get("page", {}).get("has_more"):
                    break
        found.sort(key=lambda s: s.get("detected_at") or 0, reverse=True)
        return f"{len(found)} matched\n" + "\n".join(f"#{s['id']} {s['failure_type']}" for s in found[:limit])

    @server.tool()
    def get_signal_detail(signal_id: int, agent_id: str = "") -> str:
        """One 500-row page per agent until the id turns up."""
        targets = [agent_id] if agent_id else [a["agent_id"] for a in agents()]
        for target in targets:
            body = get(f"/v1/agents/{target}/signals", {"limit": 500, "include_shadow": "false"})
            for row in body.get("signals") or []:
                if row.get("id") == signal_id:
                    return f"Signal #{signal_id} {row['failure_type']} {row.get('title', '')}"
        return f"Signal {signal_id} not found"

    @server.tool()
    def summarize_agent(agent_id: str) -> str:
        """Agents page, 50 newest signals, health score: three requests in a row."""
        if not any(a["agent_id"] == agent_id for a in agents()):
            return f"Agent '{agent_id}' not found"
        signals = get(f"/v1/agents/{agent_id}/signals", {"limit": 50, "include_shadow": "false"})
        health = get(f"/v1/agents/{agent_id}/health-score")
        return f"{agent_id}: {len(signals.get('signals') or [])} signals, health {health.get('score')}"

    server.run("stdio")


# --------------------------------------------------------------------------- measuring


def cases(data: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """The calls to time; signal ids come from the fake's data (they differ per generation)."""
    order = [a["agent_id"] for a in sorted(data["agents"], key=lambda a: -(a["last_seen"] or 0.0))]  # API order
    first_agent = order[0]  # first in upstream's scan order
    shallow = data["signals"][first_agent][0]["id"]
    deep = data["signals"][DEEP_AGENT][0]["id"]
    rank = order.index(DEEP_AGENT) + 1
    return [
        ("list_agents", "list_agents", {}),
        ("search_signals severity=HIGH (all agents)", "search_signals", {"severity": "HIGH"}),
        (f"get_signal_detail {shallow} (no agent; agent #1)", "get_signal_detail", {"signal_id": shallow}),
        (f"get_signal_detail {deep} (no agent; agent #{rank})", "get_signal_detail", {"signal_id": deep}),
        ("summarize_agent langchain-example-agent", "summarize_agent", {"agent_id": "langchain-example-agent"}),
        (f"summarize_agent agent #{rank}", "summarize_agent", {"agent_id": DEEP_AGENT}),
    ]


async def _no_validation(self: Any, name: str, result: Any) -> None:
    return None


async def measure(
    command: list[str], env: dict[str, str], fake: Any, calls: int, *, validate: bool = True
) -> dict[str, tuple[float, float, str]]:
    """{case: (median ms, requests per call, first line of the last answer)}.

    ``validate=False`` skips the Python client's check of structuredContent against the
    outputSchema (jsonschema, client side), to separate the server's time from the client's.
    """
    from mcp import Client, ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    original = ClientSession.validate_tool_result
    if not validate:
        ClientSession.validate_tool_result = _no_validation  # type: ignore[method-assign]
    try:
        return await _measure(Client, StdioServerParameters, stdio_client, command, env, fake, calls)
    finally:
        ClientSession.validate_tool_result = original  # type: ignore[method-assign]


async def _measure(Client: Any, StdioServerParameters: Any, stdio_client: Any, command: list[str],
                   env: dict[str, str], fake: Any, calls: int) -> dict[str, tuple[float, float, str]]:
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    results: dict[str, tuple[float, float, str]] = {}
    with open(os.devnull, "w") as devnull:
        async with Client(stdio_client(params, errlog=devnull), read_timeout_seconds=300) as client:
            for label, tool, args in cases(fake.data):
                await client.call_tool(tool, args)  # warm-up (imports, connections)
                samples: list[float] = []
                counts: list[int] = []
                answer = ""
                for _ in range(calls):
                    before = len(fake.requests)
                    start = time.perf_counter()
                    result = await client.call_tool(tool, args)
                    samples.append(time.perf_counter() - start)
                    counts.append(len(fake.requests) - before)
                    text = result.content[0].text if result.content else ""
                    answer = ("ERROR " if result.is_error else "") + text.strip().splitlines()[0][:70] if text else ""
                results[label] = (statistics.median(samples) * 1000, statistics.mean(counts), answer)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve-sequential", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=5, help="timed calls per tool (after one warm-up)")
    parser.add_argument("--latency", type=float, default=0.020, help="seconds of injected latency per request")
    parser.add_argument("--agents", type=int, default=300, help="synthetic agents added to the 6 real ones")
    parser.add_argument("--generation", choices=("latest", "march"), default="latest")
    args = parser.parse_args()
    if args.serve_sequential:
        serve_sequential()
        return

    from tests.fakeapi import FakeApi, serve

    fake = FakeApi(args.generation, latency=args.latency, extra_agents=args.agents)
    dunetrace = shutil.which("dunetrace", path=str(Path(sys.executable).parent)) or shutil.which("dunetrace")
    ours = [dunetrace, "mcp", "serve"] if dunetrace else [sys.executable, "-m", "dunetrace_cli", "mcp", "serve"]
    sequential = [sys.executable, str(Path(__file__).resolve()), "--serve-sequential"]
    with tempfile.TemporaryDirectory() as config_dir, serve(fake) as url:
        env = {"DUNETRACE_API_URL": url, "DUNETRACE_CONFIG_DIR": config_dir, "PYTHONPATH": str(ROOT)}
        ours_results = asyncio.run(measure(ours, env, fake, args.calls))
        ours_raw = asyncio.run(measure(ours, env, fake, args.calls, validate=False))
        seq_results = asyncio.run(measure(sequential, env, fake, args.calls))

    header = ["tool call", "dunetrace-cli ms", "(no client validation)", "requests", "sequential ms", "requests",
              "speed-up"]
    rows = []
    for label, _, _ in cases(fake.data):
        ms, reqs, _ = ours_results[label]
        raw_ms = ours_raw[label][0]
        sms, sreqs, _ = seq_results[label]
        rows.append([label, f"{ms:,.0f}", f"{raw_ms:,.0f}", f"{reqs:g}", f"{sms:,.0f}", f"{sreqs:g}",
                     f"{sms / ms:.1f}×" if ms else "—"])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(
        f"\nMCP tool-call latency over stdio: {args.generation} fake, {len(fake.data['agents'])} agents, "
        f"{args.latency * 1000:g} ms per request, median of {args.calls} calls"
    )
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print("\nAnswers (first line):")
    for label, _, _ in cases(fake.data):
        print(f"  {label}\n    dunetrace-cli: {ours_results[label][2]}\n    sequential:    {seq_results[label][2]}")


if __name__ == "__main__":
    main()
