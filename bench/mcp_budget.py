"""What a model reads from each MCP tool result, next to upstream dunetrace-mcp 0.4.7 (issue 13).

Clients differ in what they forward: Claude Code and Cursor hand the model ``structuredContent`` (as
JSON) and drop the text; others forward the text. So a result costs the *larger* of the two.

For the same calls upstream answered in its captures (``tests/data/upstream-mcp*/``: the seed's tools
with the seed's worked-example arguments, against the March and the latest fake API), this prints per
call: upstream's text, our text, our serialized structuredContent, and max(ours) / upstream. Budget:
each call within 1.25x, the total at most 1.0x. Then the largest result on a 300-agent org (budget
20,000 characters) and the ``tools/list`` catalog per tool (upstream: 19,747 characters for 22 tools).

    python bench/mcp_budget.py [--agents 294] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import print_table  # noqa: E402

LC = "langchain-example-agent"
RUN_FULL = "f32094eb-c4aa-4cff-abd9-932921edb15c"
RUN_CLEAN = "94ece585-01c6-4ffa-8f3f-aec07f160f7b"
FIXED_NOW = 1795524647  # the test suite's clock (tests/conftest.py)

UPSTREAM_CATALOG_CHARS = 19_747  # upstream's tools/list for its 22 read tools (issue 13)
UPSTREAM_CATALOG_TOOLS = 22
PER_CALL_MAX = 1.25
TOTAL_MAX = 1.0
BIG_ORG_MAX = 20_000

# (dataset, upstream capture file, tool, arguments): the upstream calls that answered (no 404 error).
CALLS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("march", "list_agents", "list_agents", {}),
    ("march", "get_agent_signals", "get_agent_signals", {"agent_id": LC, "limit": 5}),
    ("march", "get_run_detail", "get_run_detail", {"run_id": RUN_FULL, "agent_id": LC}),
    ("march", "search_signals", "search_signals", {"severity": "HIGH", "limit": 10}),
    ("march", "get_signal_detail", "get_signal_detail", {"signal_id": 23, "agent_id": LC}),
    ("march", "get_agent_patterns", "get_agent_patterns", {"agent_id": LC}),
    ("march", "summarize_agent", "summarize_agent", {"agent_id": LC}),
    ("march", "get_agent_runs", "get_agent_runs", {"agent_id": LC, "limit": 5}),
    ("march", "compare_runs", "compare_runs", {"run_id_1": RUN_FULL, "run_id_2": RUN_CLEAN, "agent_id": LC}),
    ("march", "get_instrumentation_guide", "get_instrumentation_guide", {"framework": "python"}),
    ("latest", "list_agents", "list_agents", {}),
    ("latest", "summarize_agent", "summarize_agent", {"agent_id": LC}),
    ("latest", "get_agent_health", "get_agent_health", {"agent_id": LC}),
    ("latest", "get_agent_patterns", "get_agent_patterns", {"agent_id": LC}),
    ("latest", "get_agent_runs", "get_agent_runs", {"agent_id": LC, "limit": 5}),
    ("latest", "get_agent_signals", "get_agent_signals", {"agent_id": LC, "limit": 5, "severity": "HIGH"}),
    ("latest", "get_signal_detail", "get_signal_detail", {"signal_id": 77}),
    ("latest", "search_signals", "search_signals", {"severity": "HIGH", "since_hours": 24}),
    ("latest", "get_run_detail", "get_run_detail", {"run_id": RUN_FULL}),
    ("latest", "get_instrumentation_guide", "get_instrumentation_guide", {"framework": "langgraph"}),
    ("latest", "get_agent_token_stats", "get_agent_token_stats", {"agent_id": LC}),
    ("latest", "compare_runs", "compare_runs", {"run_id_1": RUN_FULL, "run_id_2": RUN_CLEAN}),
]
UPSTREAM_DIRS = {"march": "upstream-mcp", "latest": "upstream-mcp-latest"}

# Calls on the big org: the widest each tool can be asked to answer.
BIG_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_agents", {}),
    ("list_agents", {"offset": 120}),  # page 2 (issue 13: every list pages)
    ("search_signals", {"limit": 200}),
    ("search_signals", {"limit": 200, "offset": 100}),
    ("search_signals", {}),
    ("get_agent_signals", {"agent_id": LC, "limit": 100}),
    ("get_agent_runs", {"agent_id": LC, "limit": 100}),
    ("summarize_agent", {"agent_id": LC}),
    ("get_agent_patterns", {"agent_id": LC}),
    ("get_run_detail", {"run_id": RUN_FULL}),
    ("get_signal_detail", {"signal_id": 77}),
    ("get_agent_token_stats", {"agent_id": LC}),
    ("compare_runs", {"run_id_1": RUN_FULL, "run_id_2": RUN_CLEAN}),
    ("get_instrumentation_guide", {"framework": "python"}),
]


def upstream_text(dataset: str, name: str) -> str:
    return (ROOT / "tests" / "data" / UPSTREAM_DIRS[dataset] / f"{name}.txt").read_text(encoding="utf-8")


def sizes(result: Any) -> tuple[int, int]:
    """(text characters, serialized structuredContent characters) of one tool result."""
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    structured = result.structured_content
    # compact, as Claude Code forwards it to the model (measured with shared/tools/model_api_capture.py)
    data = 0 if structured is None else len(json.dumps(structured, ensure_ascii=False, separators=(",", ":")))
    return len(text), data


def catalog_size(tools: list[Any], names: set[str] | None = None) -> tuple[int, int]:
    """(characters, tools) of the tools/list catalog, or of the tools named in ``names``."""
    chosen = [t for t in tools if names is None or t.name in names]
    dumped = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in chosen]
    return len(json.dumps(dumped, ensure_ascii=False)), len(chosen)


def upstream_tool_names() -> set[str]:
    doc = json.loads((ROOT / "tests" / "data" / "upstream-mcp" / "tools.json").read_text(encoding="utf-8"))
    return {t["name"] for t in doc["tools"]}


async def call_all(generation: str, calls: list[tuple[str, dict[str, Any]]], extra_agents: int = 0) -> list[Any]:
    from mcp import Client

    from dunetrace_cli.config import Settings
    from dunetrace_cli.mcp.server import build_server
    from tests.fakeapi import FakeApi

    fake = FakeApi(generation, extra_agents=extra_agents)  # type: ignore[arg-type]
    # one host per data set: the client remembers per server which optional routes it lacks
    settings = Settings(api_url=f"http://{generation}-{extra_agents}.fake.test", api_key="dt_dev_test", timeout=30.0, profile="default")
    server = build_server(settings, transport=fake.transport())
    out = []
    async with Client(server) as client:  # type: ignore[arg-type]
        out.append(await client.list_tools())
        for tool, args in calls:
            out.append(await client.call_tool(tool, args))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=294, help="synthetic agents added to the 6 real ones")
    parser.add_argument("--verbose", action="store_true", help="print each of our results' text and JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("DUNETRACE_NOW", str(FIXED_NOW))
    os.environ.setdefault("DUNETRACE_CONFIG_DIR", str(ROOT / ".bench-config"))

    rows: list[list[object]] = []
    total_up = total_ours = 0
    worst_ratio = 0.0
    catalog_chars = n_tools = shared_chars = n_shared = 0
    for generation in ("march", "latest"):
        mine = [(tool, a) for d, _f, tool, a in CALLS if d == generation]
        files = [f for d, f, _t, _a in CALLS if d == generation]
        listing, *results = asyncio.run(call_all(generation, mine))
        catalog_chars, n_tools = catalog_size(listing.tools)
        shared_chars, n_shared = catalog_size(listing.tools, upstream_tool_names())
        for (tool, call_args), name, result in zip(mine, files, results, strict=True):
            up = len(upstream_text(generation, name))
            text, data = sizes(result)
            ours = max(text, data)
            ratio = ours / up
            worst_ratio = max(worst_ratio, ratio)
            total_up += up
            total_ours += ours
            flag = "" if ratio <= PER_CALL_MAX and not result.is_error else "  OVER" if not result.is_error else "  ERROR"
            rows.append([generation, tool, json.dumps(call_args)[:60], up, text, data, f"{ratio:.2f}x{flag}"])
            if args.verbose:
                print(f"\n===== {generation} {tool} {call_args}\n{result.content[0].text}\n----- structuredContent")
                print(json.dumps(result.structured_content, ensure_ascii=False))
    print_table(
        "Per call: characters a model reads (upstream text vs our text and structuredContent)",
        ["dataset", "tool", "args", "upstream", "our text", "our JSON", "max/upstream"],
        rows,
    )
    print(
        f"\ntotal over {len(rows)} calls: ours {total_ours:,} (max of text, JSON per call) vs upstream {total_up:,}"
        f" = {total_ours / total_up:.2f}x (budget {TOTAL_MAX:.2f}x); worst call {worst_ratio:.2f}x (budget {PER_CALL_MAX}x)"
    )

    big = asyncio.run(call_all("latest", BIG_CALLS, extra_agents=args.agents))
    big_listing, *big_results = big
    big_rows = []
    largest = 0
    for (tool, call_args), result in zip(BIG_CALLS, big_results, strict=True):
        text, data = sizes(result)
        largest = max(largest, text, data)
        flag = "" if max(text, data) <= BIG_ORG_MAX else "  OVER"
        big_rows.append([tool, json.dumps(call_args), text, data, f"{max(text, data):,}{flag}"])
    print_table(
        f"Largest results on a {args.agents + 6}-agent org (budget {BIG_ORG_MAX:,} characters each)",
        ["tool", "args", "text", "JSON", "max"],
        big_rows,
    )
    print(f"\nlargest single result: {largest:,} characters (budget {BIG_ORG_MAX:,})")

    up_per_tool = UPSTREAM_CATALOG_CHARS / UPSTREAM_CATALOG_TOOLS
    ours_per_tool = catalog_chars / n_tools
    print(
        f"\ntools/list catalog (with output schemas): ours {catalog_chars:,} characters for {n_tools} tools"
        f" = {ours_per_tool:,.0f} per tool; upstream {UPSTREAM_CATALOG_CHARS:,} for {UPSTREAM_CATALOG_TOOLS}"
        f" = {up_per_tool:,.0f} per tool ({ours_per_tool / up_per_tool:.2f}x)"
    )
    shared_per_tool = shared_chars / n_shared
    print(
        f"the {n_shared} tools upstream also has: {shared_chars:,} characters = {shared_per_tool:,.0f} per tool"
        f" ({shared_per_tool / up_per_tool:.2f}x upstream's)"
    )
    ok = (
        worst_ratio <= PER_CALL_MAX and total_ours <= TOTAL_MAX * total_up and largest <= BIG_ORG_MAX
        and shared_per_tool <= up_per_tool
    )
    print("\nwithin every budget" if ok else "\nOVER BUDGET (see the figures above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
