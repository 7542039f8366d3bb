"""MCP over streamable HTTP under load: calls/s, latency, errors, and server RSS over many sessions.

``dunetrace mcp serve --http`` runs as a subprocess of a given code tree (this checkout, or a
baseline tree from ``git archive``) against one loopback fake Customer API (306 agents, 20 ms per
request). 50 concurrent MCP clients each open a session and make 20 tool calls (a fixed mix of
read tools); then 1,000 short sessions (one call each, 50 at a time) while the server's RSS is
sampled. Prints figures; asserts nothing.

One table: this checkout by default (identical calls within 2 s share one answer), `--stateless`,
`--stateless --workers 2`, with sharing off (`DUNETRACE_MCP_SHARE_TTL=0`: every call asks the API,
the cost of a call nobody else asked), and the baseline revision, each with calls/s (and its ratio
to the baseline's), p50/p95, errors, the API requests in the fake's log and the server's own CPU per
call (which the machine's other load does not change).

    python bench/mcp_scale.py [--clients 50] [--calls 20] [--sessions 1000] [--baseline REV]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import ROOT, FakeProcess, baseline_tree, print_table

URL_LINE = re.compile(r"streamable HTTP: (http://\S+)")
LC = "langchain-example-agent"

SERVE = (
    "import sys; sys.path.insert(0, sys.argv[1]); from dunetrace_cli.cli.app import main; "
    "sys.argv = ['dunetrace', *sys.argv[2:]]; main()"
)


def calls_for(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The mix every client cycles through (ids from the fake's data)."""
    signal = data["signals"][LC][0]["id"]
    return [
        ("summarize_agent", {"agent_id": LC}),
        ("get_agent_health", {"agent_id": "rag-agent"}),
        ("search_signals", {"severity": "HIGH", "limit": 10}),
        ("get_agent_runs", {"agent_id": "retry-agent", "limit": 5}),
        ("get_signal_detail", {"signal_id": signal}),
        ("get_agent_patterns", {"agent_id": LC}),
    ]


@contextmanager
def mcp_server(root: Path, api_url: str, *extra: str,
               env_extra: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``dunetrace mcp serve --http --port 0`` from ``root``; yields (endpoint URL, process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUNETRACE_")}
    env.update({"DUNETRACE_API_URL": api_url, "PYTHONPATH": str(root), **(env_extra or {})})
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(root), "mcp", "serve", "--http", "--port", "0", *extra],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url = None
    deadline = time.monotonic() + 60
    seen = []
    while url is None and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        match = URL_LINE.search(line)
        if match:
            url = match.group(1)
    try:
        if url is None:
            raise RuntimeError("the MCP server did not announce its URL: " + "".join(seen)[-2000:])
        time.sleep(0.5 if "--workers" in extra else 0.0)  # workers import the app after the bind
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tree(pid: int) -> list[int]:
    """``pid`` and its direct children (uvicorn's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(p) for p in children.read_text().split())] if children.exists() else [pid]


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children (uvicorn workers), MiB."""
    total = 0.0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return round(total, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its live children (uvicorn workers), seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            pass
    return total


async def _no_validation(self: Any, name: str, result: Any) -> None:
    return None


async def load(url: str, mix: list[tuple[str, dict[str, Any]]], clients: int, calls: int) -> dict[str, Any]:
    """``clients`` concurrent sessions x ``calls`` calls each. Returns calls/s, p50/p95 ms, errors."""
    from mcp import Client

    latencies: list[float] = []
    errors: list[str] = []

    async def one(index: int) -> None:
        try:
            async with Client(url, read_timeout_seconds=300) as client:
                for i in range(calls):
                    tool, args = mix[(index + i) % len(mix)]
                    start = time.perf_counter()
                    result = await client.call_tool(tool, args)
                    latencies.append(time.perf_counter() - start)
                    if result.is_error:
                        errors.append(f"{tool}: {result.content[0].text[:100] if result.content else ''}")
        except Exception as exc:  # noqa: BLE001 - a bench counts failures, it does not stop on them
            errors.append(f"session {index}: {exc.__class__.__name__}: {str(exc)[:100]}")

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "calls": len(latencies),
        "calls_per_s": len(latencies) / wall if wall else 0.0,
        "p50": statistics.median(ordered) * 1000 if ordered else 0.0,
        "p95": ordered[int(len(ordered) * 0.95) - 1] * 1000 if ordered else 0.0,
        "errors": errors,
    }


async def sessions(url: str, pid: int, total: int, concurrency: int) -> dict[str, Any]:
    """``total`` short sessions (one call each), ``concurrency`` at a time; RSS after each quarter."""
    from mcp import Client

    samples = [rss_mib(pid)]
    errors: list[str] = []
    done = 0
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        nonlocal done
        async with gate:
            try:
                async with Client(url, read_timeout_seconds=300) as client:
                    result = await client.call_tool("get_agent_health", {"agent_id": "rag-agent"})
                    if result.is_error:
                        errors.append(result.content[0].text[:100] if result.content else "error")
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{exc.__class__.__name__}: {str(exc)[:100]}")
            done += 1

    quarter = max(1, total // 4)
    for _ in range(4):
        await asyncio.gather(*(one() for _ in range(quarter)))
        samples.append(rss_mib(pid))
    return {"sessions": done, "rss": samples, "errors": errors}


def run_load(root: Path, api_url: str, mix: list[tuple[str, dict[str, Any]]], clients: int, calls: int,
             extra: tuple[str, ...] = (), env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    from mcp import ClientSession

    original = ClientSession.validate_tool_result
    ClientSession.validate_tool_result = _no_validation  # type: ignore[method-assign]  # client-side cost
    try:
        with mcp_server(root, api_url, *extra, env_extra=env_extra) as (url, proc):
            asyncio.run(load(url, mix, 1, len(mix)))  # warm-up
            before = cpu_seconds(proc.pid)
            result = asyncio.run(load(url, mix, clients, calls))
            spent = cpu_seconds(proc.pid) - before
            result["cpu_ms_per_call"] = spent * 1000 / result["calls"] if result["calls"] else 0.0
            return result
    finally:
        ClientSession.validate_tool_result = original  # type: ignore[method-assign]


def run_sessions(root: Path, api_url: str, total: int, concurrency: int, extra: tuple[str, ...] = (),
                 env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    from mcp import ClientSession

    original = ClientSession.validate_tool_result
    ClientSession.validate_tool_result = _no_validation  # type: ignore[method-assign]
    try:
        with mcp_server(root, api_url, *extra, env_extra=env_extra) as (url, proc):
            return asyncio.run(sessions(url, proc.pid, total, concurrency))
    finally:
        ClientSession.validate_tool_result = original  # type: ignore[method-assign]


SHARING_OFF = {"DUNETRACE_MCP_SHARE_TTL": "0"}
Variant = tuple[str, Path, tuple[str, ...], dict[str, str]]


def variants(trees: list[tuple[str, Path]]) -> list[Variant]:
    """This checkout's ways of serving, the baseline right after the default (nearest in time)."""
    (label, root), *others = trees
    out: list[Variant] = [(label, root, (), {})]
    out += [(other, other_root, (), {}) for other, other_root in others]
    out += [(f"{label}, --stateless", root, ("--stateless",), {}),
            (f"{label}, --stateless --workers 2", root, ("--stateless", "--workers", "2"), {}),
            (f"{label}, sharing off", root, (), SHARING_OFF)]
    return out


# server CPU ms per call: the server's own cost, whatever else the machine runs
LOAD_HEADER = ["server", "calls", "calls/s", "x baseline", "p50 ms", "p95 ms", "errors", "API requests",
               "requests/call", "server CPU ms/call"]


def load_row(label: str, result: dict[str, Any], requests: int | None, baseline: float | None) -> list[object]:
    calls = result["calls"]
    ratio = f"{result['calls_per_s'] / baseline:.1f}x" if baseline else ""
    return [label, calls, f"{result['calls_per_s']:.1f}", ratio, f"{result['p50']:,.0f}", f"{result['p95']:,.0f}",
            len(result["errors"]), "" if requests is None else requests,
            f"{requests / calls:.2f}" if requests is not None and calls else "",
            f"{result.get('cpu_ms_per_call', 0):.1f}"]


def mcp_tables(trees: list[tuple[str, Path]], fake: FakeProcess, clients: int, calls: int, sessions_total: int,
               latency: float) -> None:
    """The load table (every variant) and the RSS table (this checkout, sharing off, the baseline)."""
    mix = calls_for(fake.data)
    results: list[tuple[Variant, dict[str, Any] | None, int | None]] = []
    for variant in variants(trees):
        label, root, extra, env_extra = variant
        fake.clear()
        try:
            result = run_load(root, fake.url, mix, clients, calls, extra, env_extra)
        except RuntimeError as exc:
            print(f"  {label}: {str(exc)[:200]}", file=sys.stderr)
            results.append((variant, None, None))
            continue
        results.append((variant, result, fake.request_count()))
        for err in result["errors"][:3]:
            print(f"  {label} error: {err}", file=sys.stderr)
    base = next((r["calls_per_s"] for (label, *_), r, _ in results if r and label.startswith("baseline")), None)
    rows = [load_row(v[0], r, n, base) if r else [v[0], "failed"] for v, r, n in results]
    print_table(f"MCP over streamable HTTP: {clients} clients x {calls} calls, {len(fake.data['agents'])} agents, "
                f"{latency * 1000:g} ms per request (fake API in its own process)", LOAD_HEADER, rows)
    rss_rows = []
    for label, root, extra, env_extra in variants(trees):
        if extra:
            continue
        out = run_sessions(root, fake.url, sessions_total, clients, extra, env_extra)
        rss_rows.append([label, out["sessions"], *out["rss"], len(out["errors"])])
        for err in out["errors"][:2]:
            print(f"  {label} session error: {err}", file=sys.stderr)
    print_table(f"MCP server RSS (MiB) over {sessions_total} sessions ({clients} at a time, one call each)",
                ["server", "sessions", "start", "25%", "50%", "75%", "100%", "errors"], rss_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.020)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--baseline", default=None, help="git revision to measure side by side (e.g. 2b46962)")
    args = parser.parse_args()

    trees = [("this checkout", ROOT)]
    if args.baseline:
        trees.append((f"baseline {args.baseline}", baseline_tree(args.baseline)))
    with FakeProcess("latest", latency=args.latency, extra_agents=args.agents) as fake:
        mcp_tables(trees, fake, args.clients, args.calls, args.sessions, args.latency)


if __name__ == "__main__":
    main()
