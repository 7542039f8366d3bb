"""MCP start-up: spawn `dunetrace mcp serve` (stdio) to a completed `tools/list`, next to the library's floor.

The floor is `python -c "import mcp.server.mcpserver"`: no server can answer before it has imported its
MCP library. Both clocks stop at the child's answer (the floor prints a line once imported), so neither
includes interpreter teardown. Issue 13 keeps the spawn-to-catalog time within 1.2x of it. A raw JSON-RPC client writes
`initialize`, `notifications/initialized` and `tools/list` on the child's stdin and stops the clock when
the `tools/list` answer arrives (no client library start-up in the figure).

The machine is shared, so the two are interleaved (each pair sees the same load) and four figures are
printed: the medians' ratio, the median of the per-pair ratios, the minimums' ratio, and the same for CPU
seconds (user + system of the child, from wait4: far less sensitive to other processes' load than wall
time). ``--baseline REV`` adds that git revision's `dunetrace mcp serve` (its tree from `git archive`, first
on PYTHONPATH) to every round, side by side.

    python bench/mcp_startup.py [--runs 20] [--baseline main~3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import ROOT, baseline_tree, median_ms, print_table

BUDGET = 1.2
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def _cpu(pid: int) -> float:
    """Wait for ``pid`` and return the CPU seconds (user + system) it used."""
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime


def spawn_to_tools_list(env: dict[str, str], cwd: str) -> tuple[float, float, int]:
    """Seconds from spawn to the tools/list answer, the child's CPU seconds, and the number of tools."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dunetrace_cli", "mcp", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=env, cwd=cwd,
    )
    assert proc.stdin is not None and proc.stdout is not None
    elapsed, tools = 0.0, 0
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
                elapsed, tools = time.perf_counter() - start, len(message["result"]["tools"])
                break
    finally:
        proc.stdin.close()
    try:
        return elapsed, _cpu(proc.pid), tools  # CPU to exit: the answer, then stdin's EOF ends the server
    finally:
        proc.returncode = 0  # reaped by wait4
        proc.stdout.close()


FLOOR = "import mcp.server.mcpserver, sys; sys.stdout.write('imported\\n'); sys.stdout.flush()"


def floor_import(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawn to the import done (its line on stdout; teardown is outside the clock, as the
    server's shutdown is), and the child's CPU seconds to exit."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", FLOOR], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    if proc.stdout.readline() != b"imported\n":
        raise RuntimeError("python -c 'import mcp.server.mcpserver' failed")
    elapsed = time.perf_counter() - start
    cpu = _cpu(proc.pid)
    proc.returncode = 0
    proc.stdout.close()
    return elapsed, cpu


def _ratios(serves: list[float], floors: list[float]) -> tuple[float, float, float]:
    """(medians' ratio, median of per-pair ratios, minimums' ratio)."""
    pairs = statistics.median(s / f for s, f in zip(serves, floors))
    return statistics.median(serves) / statistics.median(floors), pairs, min(serves) / min(floors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision, side by side")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as config:
        # no request reaches the API for tools/list; an unroutable URL proves it
        env = {**os.environ, "DUNETRACE_API_URL": "http://127.0.0.1:9", "DUNETRACE_CONFIG_DIR": config}
        cases = {"this tree": (env, str(ROOT))}  # `-m` puts the working directory first on sys.path
        if args.baseline:
            tree = str(baseline_tree(args.baseline))
            cases[args.baseline] = ({**env, "PYTHONPATH": os.pathsep.join([tree, env.get("PYTHONPATH", "")])}, tree)
        floor_import(env)
        for case in cases.values():
            spawn_to_tools_list(*case)  # warm the page cache for both
        floor_wall: list[float] = []
        floor_cpu: list[float] = []
        wall: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        tools = dict.fromkeys(cases, 0)
        for round_ in range(args.runs):  # interleaved, so every case sees the same machine load
            order = ["floor", *cases]
            for name in order if round_ % 2 == 0 else order[::-1]:  # and each goes first as often
                if name == "floor":
                    w, c = floor_import(env)
                    floor_wall.append(w)
                    floor_cpu.append(c)
                    continue
                w, c, tools[name] = spawn_to_tools_list(*cases[name])
                wall[name].append(w)
                cpu[name].append(c)
    rows = [['python -c "import mcp.server.mcpserver" (floor)', median_ms(floor_wall),
             round(min(floor_wall) * 1000, 1), median_ms(floor_cpu), "", "", ""]]
    for name in cases:
        by_wall, by_pair, by_min = _ratios(wall[name], floor_wall)
        by_cpu = _ratios(cpu[name], floor_cpu)[0]
        rows.append([f"dunetrace mcp serve, {name}: spawn to tools/list ({tools[name]} tools)", median_ms(wall[name]),
                     round(min(wall[name]) * 1000, 1), median_ms(cpu[name]),
                     f"{by_wall:.2f}x / {by_pair:.2f}x", f"{by_min:.2f}x", f"{by_cpu:.2f}x"])
    print_table(
        f"MCP start-up over stdio, {args.runs} interleaved rounds (ms; ratios to the floor)",
        ["what", "median wall", "min wall", "median CPU", "wall: medians / pairs", "min wall", "CPU"],
        rows,
    )
    ratio = _ratios(wall["this tree"], floor_wall)[1]
    print(f"\nspawn to tools/list = {ratio:.2f}x the floor (median of the per-round ratios; budget {BUDGET}x)"
          f"{'' if ratio <= BUDGET else '  OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
