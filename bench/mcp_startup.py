"""MCP start-up: spawn `dunetrace mcp serve` (stdio) to a completed `tools/list`, next to the library's floor.

The floor is `python -c "import mcp.server.mcpserver"`: no server can answer before it has imported its
MCP library. Issue 13 keeps the spawn-to-catalog time within 1.2x of it. A raw JSON-RPC client writes
`initialize`, `notifications/initialized` and `tools/list` on the child's stdin and stops the clock when
the `tools/list` answer arrives (no client library start-up in the figure). Median of N runs.

    python bench/mcp_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _common import ROOT, median_ms, print_table

BUDGET = 1.2
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def spawn_to_tools_list(env: dict[str, str]) -> tuple[float, int]:
    """Seconds from spawn to the tools/list answer, and the number of tools in it."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dunetrace_cli", "mcp", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        payload = "".join(json.dumps(m) + "\n" for m in (INIT, INITIALIZED, LIST))
        proc.stdin.write(payload.encode())
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the server exited before answering tools/list")
            message = json.loads(line)
            if message.get("id") == 2:
                elapsed = time.perf_counter() - start
                return elapsed, len(message["result"]["tools"])
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def floor_import(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp.server.mcpserver"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as config:
        # no request reaches the API for tools/list; an unroutable URL proves it
        env = {**os.environ, "DUNETRACE_API_URL": "http://127.0.0.1:9", "DUNETRACE_CONFIG_DIR": config}
        floor_import(env)
        spawn_to_tools_list(env)  # warm the page cache for both
        floors, serves, tools = [], [], 0
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            floors.append(floor_import(env))
            elapsed, tools = spawn_to_tools_list(env)
            serves.append(elapsed)
    floor, serve = median_ms(floors), median_ms(serves)
    print_table(
        f"MCP start-up over stdio, median of {args.runs} (ms)",
        ["what", "median ms", "min ms"],
        [
            ['python -c "import mcp.server.mcpserver" (floor)', floor, round(min(floors) * 1000, 1)],
            [f"dunetrace mcp serve: spawn to tools/list ({tools} tools)", serve, round(min(serves) * 1000, 1)],
        ],
    )
    ratio = serve / floor
    print(f"\nspawn to tools/list = {ratio:.2f}x the floor (budget {BUDGET}x){'' if ratio <= BUDGET else '  OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
