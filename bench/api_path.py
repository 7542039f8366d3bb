"""Issue 12 in one run: every row of its table, this checkout next to a baseline revision and the floor.

    python bench/api_path.py [--baseline 2b46962] [--quick] [--no-mcp]

* start-up: whole-process medians (wall and CPU) of `dunetrace agents --json` (6 agents, loopback
  fake), `guide python`, `--help` and `config show`, next to the import of the command's own stack
  (typer, rich.console, httpx, pydantic) as the floor and that stack in use (one pydantic model, one
  AsyncClient request), in interleaved rounds (`--only startup` runs just this part);
* prefix lookups (`get_run` by a 12-character prefix) on the latest and the March fake with 306
  agents and 20 ms per request: wall ms and the requests in the fake's log, next to the floor
  (latest: 4 round trips; March: one page per agent plus the agent list, 8 in flight);
* requests a result needs (`get_patterns`, `summarize_agent`, also on the March fake), one cold process
  per call (the CLI) and one warm client (the MCP server);
* list paging: `list_agents` at 1,500 agents (3 pages);
* `--json` writing of a ~136 KB result, through the CLI's writer and as a plain write;
* MCP over HTTP, 50 clients x 20 calls (bench/mcp_scale.py), and 2 workers next to 1.

The baseline tree is `git archive REV` extracted under /tmp, first on PYTHONPATH of the measuring
subprocess: both trees run on the same machine, interpreter and fake, one after the other.
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
from pathlib import Path
from typing import Any

from _common import ROOT, FakeProcess, baseline_tree, print_table

from tests.fakeapi import FakeApi, serve

PROBE = str(Path(__file__).resolve().parent / "_probe.py")
LATENCY = 0.020
DEEP_AGENT = "synthetic-agent-0199"
LC = "langchain-example-agent"
RUN_CLI = (
    "import sys; sys.path.insert(0, sys.argv[1]); from dunetrace_cli.cli.app import main; "
    "sys.argv = ['dunetrace', *sys.argv[2:]]; main()"
)
STACK = "import typer, rich.console, httpx, pydantic"


def _env(url: str | None, config_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUNETRACE_")}
    env["DUNETRACE_CONFIG_DIR"] = config_dir
    if url:
        env["DUNETRACE_API_URL"] = url
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process: CPU (user + system) is what the machine's load changes least."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


# The floor's libraries in use: pydantic and httpx import most of themselves lazily, on the first model
# class and the first AsyncClient request, so `import pydantic, httpx` alone leaves out ~200 ms that
# `agents --json` cannot avoid. Shown next to the floor, not instead of it.
STACK_IN_USE = """
import asyncio, sys
import typer, rich.console, httpx, pydantic
from pydantic import BaseModel, Field
class Agent(BaseModel):
    agent_id: str
    run_count: int = Field(default=0)
async def main():
    async with httpx.AsyncClient() as client:
        body = (await client.get(sys.argv[1] + "/v1/agents")).json()
    print([Agent.model_validate(a).agent_id for a in body["agents"]])
asyncio.run(main())
"""
STARTUP_COMMANDS = (["agents", "--json"], ["guide", "python"], ["--help"], ["config", "show"])


def startup(trees: list[tuple[str, Path]], runs: int, config_dir: str) -> None:
    """Every command and the floor once per round, rounds interleaved: the machine's load hits all alike."""
    for _, root in trees:  # as installed (pip compiles at install): PYTHONDONTWRITEBYTECODE would time the compiler
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "dunetrace_cli")], check=True,
                       stdout=subprocess.DEVNULL)
    fake = FakeApi("latest")
    with serve(fake) as url:
        env = _env(url, config_dir)
        cases: list[tuple[str, str, list[str]]] = [
            ("floor: " + STACK, "", [sys.executable, "-c", STACK]),
            ("stack in use: + a model, an AsyncClient GET", "", [sys.executable, "-c", STACK_IN_USE, url]),
        ]
        for args in STARTUP_COMMANDS:
            for label, root in trees:
                cases.append(("dunetrace " + " ".join(args), label, [sys.executable, "-c", RUN_CLI, str(root), *args]))
        samples: dict[int, list[tuple[float, float]]] = {i: [] for i in range(len(cases))}
        requests: dict[int, int] = dict.fromkeys(range(len(cases)), 0)
        for round_ in range(runs + 1):  # round 0 warms the caches and is dropped
            for i, (_, _, cmd) in enumerate(cases):
                before = len(fake.requests)
                sample = _timed(cmd, env)
                if round_:
                    samples[i].append(sample)
                    requests[i] += len(fake.requests) - before
    floor_wall = statistics.median(w for w, _ in samples[0]) * 1000
    floor_cpu = statistics.median(c for _, c in samples[0]) * 1000
    rows: list[list[object]] = []
    for i, (name, label, _) in enumerate(cases):
        wall = statistics.median(w for w, _ in samples[i]) * 1000
        cpu = statistics.median(c for _, c in samples[i]) * 1000
        rows.append([name, label, f"{wall:.0f}", f"{wall / floor_wall:.2f}x", f"{cpu:.0f}", f"{cpu / floor_cpu:.2f}x",
                     f"{requests[i] / runs:g}" if i else ""])
    print_table(f"Start-up, whole process, median of {runs} interleaved rounds (ms)",
                ["command", "code", "wall", "/ floor", "CPU", "/ floor", "requests"], rows)


def probe(root: Path, env: dict[str, str], mode: str, spec: str, kwargs: dict[str, Any], repeat: int,
          *flags: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, PROBE, str(root), mode, spec, json.dumps(kwargs), str(repeat), *flags],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"probe failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _query_row(case: str, label: str, fake: FakeApi, root: Path, env: dict[str, str], spec: str,
               kwargs: dict[str, Any], repeat: int, floor: str, *flags: str) -> list[object]:
    fake.requests.clear()
    out = probe(root, env, "query", spec, kwargs, repeat, *flags)
    requests = statistics.mean(out["requests"]) if out["requests"] else len(fake.requests) / (repeat + 1)
    ms = statistics.median(out["ms"]) if out["ms"] else float("nan")
    cpu = statistics.median(out["cpu_ms"]) if out.get("cpu_ms") else float("nan")
    note = ("error: " + out["errors"][0][:60]) if out["errors"] else ""
    return [case, label, f"{ms:,.0f}", f"{cpu:,.0f}", f"{requests:g}", floor, note]


def lookups(trees: list[tuple[str, Path]], repeat: int, config_dir: str) -> None:
    rows: list[list[object]] = []
    for generation in ("latest", "march"):
        fake = FakeApi(generation, latency=LATENCY, extra_agents=300)
        agents = len(fake.data["agents"])
        run_id = fake.data["runs"][DEEP_AGENT][0]["run_id"]
        rank = [a["agent_id"] for a in sorted(fake.data["agents"], key=lambda a: -(a["last_seen"] or 0))].index(
            DEEP_AGENT) + 1
        if generation == "latest":
            floor = f"4 round trips = {4 * LATENCY * 1000:.0f} ms"
        else:
            pages = agents + 1
            floor = f"{pages} pages x {LATENCY * 1000:g} ms / 8 = {pages * LATENCY * 1000 / 8:.0f} ms"
        with serve(fake) as url:
            env = _env(url, config_dir)
            variants = [(label, root, ()) for label, root in trees]
            variants.insert(1, ("this checkout, no sniffio", ROOT, ("nosniffio",)))  # as before it was a dependency
            for label, root, flags in variants:
                rows.append(_query_row(f"get_run {run_id[:12]} (agent #{rank}), {generation}", label, fake, root, env,
                                       "dunetrace_cli.queries.runs:get_run", {"run_id": run_id[:12]}, repeat, floor,
                                       *flags))
            missing = "ffffffff-0000"
            for label, root, flags in variants:
                rows.append(_query_row(f"get_run {missing} (no match), {generation}", label, fake, root, env,
                                       "dunetrace_cli.queries.runs:get_run", {"run_id": missing}, repeat,
                                       "every run read once", *flags))
    print_table(f"Run prefix lookups, 306 agents, {LATENCY * 1000:g} ms per request, median of {repeat} cold calls",
                ["lookup", "code", "ms", "client CPU ms", "requests", "floor", "note"], rows)


def per_result(trees: list[tuple[str, Path]], repeat: int, config_dir: str) -> None:
    rows: list[list[object]] = []
    for agents_total in (306, 1500):
        fake = FakeApi("latest", latency=LATENCY, extra_agents=agents_total - 6)
        with serve(fake) as url:
            env = _env(url, config_dir)
            cases = [
                ("get_patterns", "dunetrace_cli.queries.patterns:get_patterns", {"agent_id": LC}, "1 request"),
                ("summarize_agent", "dunetrace_cli.queries.summary:summarize_agent", {"agent_id": LC},
                 "4 requests, 1 round trip"),
                ("summarize_agent (unknown agent)", "dunetrace_cli.queries.summary:summarize_agent",
                 {"agent_id": "no-such-agent"}, "not found"),
                ("list_agents", "dunetrace_cli.queries.agents:list_agents", {},
                 f"{-(-agents_total // 500)} pages, 2 round trips"),
            ]
            for case, spec, kwargs, floor in cases:
                if agents_total == 1500 and case.startswith("get_patterns"):
                    continue
                for mode in ("cold", "warm"):
                    for label, root in trees:
                        flags = ("warm",) if mode == "warm" else ()
                        rows.append(_query_row(f"{case}, {agents_total} agents, {mode}", label, fake, root, env, spec,
                                               kwargs, repeat, floor, *flags))
    fake = FakeApi("march", latency=LATENCY, extra_agents=300)  # no /health-score, no systemic_patterns
    with serve(fake) as url:
        env = _env(url, config_dir)
        for mode in ("cold", "warm"):
            for label, root in trees:
                rows.append(_query_row(f"summarize_agent, March, 306 agents, {mode}", label, fake, root, env,
                                       "dunetrace_cli.queries.summary:summarize_agent", {"agent_id": LC}, repeat,
                                       "5 routes once + 40 run details", *(("warm",) if mode == "warm" else ())))
    print_table(f"Requests per result, {LATENCY * 1000:g} ms per request (cold: a fresh process per call, the CLI; "
                "warm: one client, the MCP server)", ["query", "code", "ms", "client CPU ms", "requests", "floor", "note"],
                rows)


def json_writing(trees: list[tuple[str, Path]], repeat: int, config_dir: str) -> None:
    fake = FakeApi("latest", extra_agents=300)
    rows: list[list[object]] = []
    with serve(fake) as url:
        env = _env(url, config_dir)
        for label, root in trees:
            out = probe(root, env, "json", "dunetrace_cli.queries.signals:search_signals", {"limit": 70}, repeat)
            rows.append([label, f"{out['bytes'] / 1024:,.0f} KB", f"{statistics.median(out['ms']):.2f}",
                         f"{statistics.median(out['plain_write_ms']):.3f}", f"{out['dump_ms']:.1f}"])
    print_table(f"--json writing (search_signals, 70 signals), median of {repeat}",
                ["code", "size", "CLI writer ms", "plain write ms (floor)", "json.dumps ms"], rows)


def mcp_rows(trees: list[tuple[str, Path]], clients: int, calls: int, sessions: int) -> None:
    import mcp_scale

    with FakeProcess("latest", latency=LATENCY, extra_agents=300) as fake:  # its own process: no shared GIL
        mcp_scale.mcp_tables(trees, fake, clients, calls, sessions, LATENCY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=None, help="git revision measured side by side (e.g. 2b46962)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a lighter MCP load")
    parser.add_argument("--no-mcp", action="store_true", help="skip the MCP load")
    parser.add_argument("--only", default=None, help="startup,lookups (or prefix),requests,json,mcp")
    args = parser.parse_args()
    trees = [("this checkout", ROOT)]
    if args.baseline:
        trees.append((f"baseline {args.baseline}", baseline_tree(args.baseline)))
    repeat = 3 if args.quick else 7
    only = set((args.only or "startup,lookups,requests,json,mcp").split(","))
    if "prefix" in only:
        only.add("lookups")
    if args.no_mcp:
        only.discard("mcp")
    with tempfile.TemporaryDirectory() as config_dir:
        if "startup" in only:
            startup(trees, 5 if args.quick else 10, config_dir)
        if "lookups" in only:
            lookups(trees, repeat, config_dir)
        if "requests" in only:
            per_result(trees, repeat, config_dir)
        if "json" in only:
            json_writing(trees, 20, config_dir)
        if "mcp" in only:
            mcp_rows(trees, 20 if args.quick else 50, 10 if args.quick else 20, 200 if args.quick else 1000)


if __name__ == "__main__":
    main()
