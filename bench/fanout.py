"""Fan-out: `signals --severity HIGH` across 300 agents with 20 ms injected server latency.

Compares the query layer (bounded concurrency, 8 in flight) with a sequential client
doing the same requests one at a time (upstream dunetrace-mcp's approach, without its
100-agent cap). March-2026 server: one scan per agent. Latest server: the org-wide
/v1/signals stream. Prints wall time and request count.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from _common import print_table

from dunetrace_cli.client import ApiClient, reset_feature_cache
from dunetrace_cli.config import load_settings
from dunetrace_cli.queries import search_signals
from tests.fakeapi import FakeApi, serve

AGENTS = 300
LATENCY = 0.02


def sequential(url: str) -> tuple[int, int]:
    """One request at a time: list agents, then page each agent's HIGH signals."""
    matched = 0
    with httpx.Client(base_url=url, timeout=30) as http:
        agents, offset = [], 0
        while True:
            body = http.get("/v1/agents", params={"limit": 500, "offset": offset}).json()
            agents += [a["agent_id"] for a in body["agents"]]
            offset += len(body["agents"])
            if not body["page"]["has_more"]:
                break
        for agent in agents:
            offset = 0
            while True:
                body = http.get(f"/v1/agents/{agent}/signals",
                                params={"severity": "HIGH", "limit": 200, "offset": offset}).json()
                matched += len(body["signals"])
                offset += len(body["signals"])
                if not body["page"]["has_more"]:
                    break
    return matched, 0


async def ours(url: str) -> tuple[int, int]:
    reset_feature_cache()
    settings = load_settings(api_url=url, env={})
    async with ApiClient(settings) as client:
        result = await search_signals(client, severity="HIGH", limit=20)
        return result.total_matched, client.request_count


def measure(generation: str) -> list[list[object]]:
    fake = FakeApi(generation, latency=LATENCY, extra_agents=AGENTS - 6)
    rows = []
    with serve(fake) as url:
        fake.requests.clear()
        start = time.perf_counter()
        matched, _ = asyncio.run(ours(url))
        wall = time.perf_counter() - start
        rows.append([generation, "dunetrace-cli (8 in flight)", f"{wall:.2f}", len(fake.requests), matched])
        if generation == "march":
            fake.requests.clear()
            start = time.perf_counter()
            matched_seq, _ = sequential(url)
            wall = time.perf_counter() - start
            rows.append([generation, "sequential baseline", f"{wall:.2f}", len(fake.requests), matched_seq])
    return rows


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()  # --help; no options
    rows = measure("march") + measure("latest")
    print_table(
        f"signals --severity HIGH across {AGENTS} agents, {int(LATENCY * 1000)} ms server latency",
        ["server", "client", "wall s", "requests", "HIGH signals matched"],
        rows,
    )


if __name__ == "__main__":
    main()
