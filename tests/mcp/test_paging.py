"""Every MCP list tool pages (issue 13): ``offset``, the total, and the next page as a ready-made call.

Page after page is the unpaged list cut in pieces: the ids of page 1 and page 2 are disjoint and together
the first ``2 * limit`` of one call asking for ``2 * limit``. The next page is reached by making the call
the previous page's ``next_steps`` names, exactly as a model would (its arguments parsed from the string).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.mcp.conftest import LC, text_of

pytestmark = pytest.mark.anyio

ARG = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,)]+)')


def parse_call(call: str) -> tuple[str, dict[str, Any]]:
    """``search_signals(severity="HIGH", offset=5)`` -> (tool, arguments), as a model would read it."""
    name, _, rest = call.partition("(")
    return name, {key: json.loads(value) for key, value in ARG.findall(rest)}


def ids(data: dict[str, Any], table: str, column: str) -> list[Any]:
    index = data[table]["columns"].index(column)
    return [row[index] for row in data[table]["rows"]]


def assert_two_pages(p1: dict[str, Any], p2: dict[str, Any], whole: dict[str, Any], table: str, column: str, limit: int) -> None:
    """Pages 1 and 2 of ``limit`` rows: same total, disjoint, and together the first 2*limit rows of ``whole``."""
    assert p1["page"]["next_offset"] == limit
    assert p1["page"]["offset"] == 0 and p2["page"]["offset"] == limit
    assert p1["page"]["total"] == p2["page"]["total"] == whole["page"]["total"] > 2 * limit
    one, two = ids(p1, table, column), ids(p2, table, column)
    assert len(one) == len(two) == limit
    assert not set(one) & set(two)
    assert one + two == ids(whole, table, column)


def page_call(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The next-page step of a result (the one whose call carries ``offset``)."""
    found = [s["call"] for s in data["next_steps"] if "offset=" in s["call"]]
    assert len(found) == 1, data["next_steps"]
    return parse_call(found[0])



async def fetch_two_pages(c: Any, tool: str, args: dict[str, Any]) -> tuple[Any, Any, Any, str, dict[str, Any]]:
    """Page 1, page 2 reached through page 1's next-page call (as a model makes it), and one unpaged call of
    ``2 * limit``: (first, second, whole, the next-page tool, its arguments)."""
    first = await c.call_tool(tool, args)
    assert not first.is_error, text_of(first)
    name, follow = page_call(first.structured_content)
    second = await c.call_tool(name, follow)
    assert not second.is_error, text_of(second)
    whole = await c.call_tool(tool, {**args, "limit": 2 * args["limit"]})
    return first, second, whole, name, follow

# (tool, arguments of page 1, result table, id column)
LISTS = [
    ("search_signals", {"limit": 7}, "signals", "id"),
    ("search_signals", {"severity": "HIGH", "since_hours": 24, "limit": 5}, "signals", "id"),
    ("search_signals", {"agent_id": LC, "failure_type": "tool_loop", "limit": 4}, "signals", "id"),
    ("get_agent_signals", {"agent_id": LC, "limit": 6}, "signals", "id"),
    ("get_agent_signals", {"agent_id": LC, "limit": 3, "severity": "HIGH"}, "signals", "id"),
    ("get_agent_runs", {"agent_id": LC, "limit": 8}, "runs", "run_id"),
]


@pytest.mark.parametrize(("tool", "args", "table", "column"), LISTS)
@pytest.mark.parametrize("generation", ["latest", "march"])
async def test_two_pages_are_the_unpaged_list_cut_in_two(mcp_client, make_fake, generation, tool, args, table,
                                                         column) -> None:
    limit = args["limit"]
    async with mcp_client(make_fake(generation)) as c:
        first, second, whole, name, follow = await fetch_two_pages(c, tool, args)
    p1, p2 = first.structured_content, second.structured_content
    # the next page is the same tool with the same filters, offset moved on by one page
    expected = {**args, "offset": limit}
    if "failure_type" in args:
        expected["failure_type"] = "TOOL_LOOP"  # in the server's spelling
    assert (name, follow) == (tool, expected)
    assert_two_pages(p1, p2, whole.structured_content, table, column, limit)
    # the text says the same page
    total = p1["page"]["total"]
    noun = "runs" if table == "runs" else "matches"
    assert f"{limit} of {total} {noun}; next page: offset={limit}" in text_of(first)
    assert f"{limit + 1}-{2 * limit} of {total} {noun}; next page: offset={2 * limit}" in text_of(second)
    for call in (s["call"] for s in p2["next_steps"]):
        assert call in text_of(second)


async def test_the_last_page_has_no_next_page(mcp_client) -> None:
    async with mcp_client() as c:
        whole = await c.call_tool("get_agent_runs", {"agent_id": LC, "limit": 100})
        total = whole.structured_content["page"]["total"]
        last = await c.call_tool("get_agent_runs", {"agent_id": LC, "limit": 15, "offset": 30})
    assert total == 40
    data = last.structured_content
    assert data["page"] == {"total": 40, "offset": 30}  # no next_offset: nothing after these
    assert ids(data, "runs", "run_id") == ids(whole.structured_content, "runs", "run_id")[30:]
    assert not any("offset=" in s["call"] for s in data["next_steps"])
    assert text_of(last).startswith(f"# Runs of `{LC}`: 31-40 of 40 runs, newest first")


@pytest.mark.parametrize(("tool", "args", "total", "noun"), [
    ("search_signals", {"severity": "HIGH", "limit": 10, "offset": 500}, 39, "matches"),
    ("get_agent_runs", {"agent_id": LC, "limit": 10, "offset": 40}, 40, "runs"),
    ("list_agents", {"offset": 6}, 6, "agents"),
])
async def test_an_offset_past_the_end_says_so_and_names_the_last_page(mcp_client, tool, args, total, noun) -> None:
    async with mcp_client() as c:
        r = await c.call_tool(tool, args)
        assert not r.is_error, text_of(r)
        data = r.structured_content
        assert data["page"] == {"total": total, "offset": args["offset"]}
        step = next(s for s in data["next_steps"] if s["call"].startswith(f"{tool}("))
        name, back = parse_call(step["call"])
        size = args.get("limit", 120)  # list_agents: 120 a page
        assert back.get("offset", 0) == (total - 1) // size * size  # the last page, paging by size from 0
        assert f"offset {args['offset']} is past the end ({total} rows)" in step["why"]
        assert f"none at offset {args['offset']}, past the end of {total} {noun}" in text_of(r)
        assert step["call"] in text_of(r)
        last = await c.call_tool(name, back)
    # the named call answers the last rows
    rows = last.structured_content[{"search_signals": "signals", "get_agent_runs": "runs",
                                    "list_agents": "agents"}[tool]]["rows"]
    assert rows and "next_offset" not in last.structured_content["page"]


async def test_list_agents_pages_a_300_agent_org(mcp_client, make_fake) -> None:
    seen: list[str] = []
    async with mcp_client(make_fake("latest", extra_agents=294)) as c:
        r = await c.call_tool("list_agents", {})
        pages = [r.structured_content]
        while any("offset=" in s["call"] for s in pages[-1]["next_steps"]):
            name, args = page_call(pages[-1])
            assert name == "list_agents" and set(args) == {"offset"}
            r = await c.call_tool(name, args)
            assert not r.is_error, text_of(r)
            pages.append(r.structured_content)
    for page in pages:
        seen += ids(page, "agents", "agent_id")
    assert [p["page"].get("next_offset") for p in pages] == [120, 240, None]
    assert [len(p["agents"]["rows"]) for p in pages] == [120, 120, 60]
    assert len(seen) == len(set(seen)) == 300 == pages[0]["page"]["total"]
    assert seen[0] == LC  # the whole list is ordered once (most CRITICAL/HIGH first), then cut


async def test_a_negative_offset_is_one_sentence(mcp_client) -> None:
    async with mcp_client() as c:
        r = await c.call_tool("search_signals", {"offset": -1})
    assert r.is_error
    text = text_of(r)
    assert "`offset`" in text and "pydantic" not in text and "\n" not in text.strip()


async def test_a_view_capped_page_moves_on_by_what_it_showed(mcp_client, make_fake) -> None:
    """limit=200 is answered with at most 100 rows: the next page starts after those 100."""
    async with mcp_client(make_fake("latest", extra_agents=30)) as c:
        r = await c.call_tool("search_signals", {"limit": 200})
        data = r.structured_content
        assert len(data["signals"]["rows"]) == 100 < data["page"]["total"]
        assert data["page"]["next_offset"] == 100
        name, args = page_call(data)
        assert args == {"limit": 100, "offset": 100}
        second = await c.call_tool(name, args)
    assert second.structured_content["page"]["offset"] == 100
    assert not set(ids(data, "signals", "id")) & set(ids(second.structured_content, "signals", "id"))
