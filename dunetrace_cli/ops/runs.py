"""Run operations: runs, run, compare."""

from typing import Any

from dunetrace_cli import params as P
from dunetrace_cli.errors import UsageError
from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation, register

V = "dunetrace_cli.mcp.views"  # the compact MCP views (structuredContent)

T = "dunetrace_cli.render.tables:render"
MD = "dunetrace_cli.render.markdown"


def bind_status(kwargs: dict[str, Any], face: str) -> dict[str, Any]:
    """CLI ``--failing`` / ``--clean`` -> the query's ``status``."""
    failing, clean = kwargs.pop("failing", False), kwargs.pop("clean", False)
    if failing and clean:
        raise UsageError("choose --failing or --clean, not both.")
    kwargs["status"] = "failing" if failing else "clean" if clean else "all"
    return kwargs


register(Operation(
    name="runs", cli="runs", mcp="get_agent_runs", title="Agent runs", panel="Investigate",
    mcp_model=f"{V}.runs:RunPage", mcp_view=f"{V}.runs:run_page",
    query="dunetrace_cli.queries.runs:list_runs", model="dunetrace_cli.models.runs:RunList",
    table=T, markdown=f"{MD}:render_run_list", list_result=True, bind="dunetrace_cli.ops.runs:bind_status",
    params=(
        P.AGENT_ARG,
        P.limit(20, 10000, what="runs", mcp_max=100), P.OFFSET,
        Param("failing", bool, "Only runs with at least one signal.", default=False, flag="--failing", faces="cli"),
        Param("clean", bool, "Only runs without signals.", default=False, flag="--clean", faces="cli"),
        P.FOLLOW, P.INTERVAL,
    ),
    summary="An agent's newest runs (as processed by the detector).",
    description="The agent's newest processed runs: start time, duration, steps, tokens, signal count.",
    examples=(
        "dunetrace runs langchain-example-agent --limit 5",
        "dunetrace runs retry-agent --failing --limit 3",
        "dunetrace runs langchain-example-agent --limit 40 | grep -c run.completed",
    ),
))

register(Operation(
    name="run", cli="run", mcp="get_run_detail", title="Run detail", panel="Investigate",
    mcp_model=f"{V}.runs:RunDetailView", mcp_view=f"{V}.runs:run_detail",
    query="dunetrace_cli.queries.runs:get_run", model="dunetrace_cli.models.runs:RunView",
    table=T, markdown=f"{MD}:render_run_view", params=(
        P.RUN_ID, P.AGENT_OPT,
        # parent/child runs (issue 8): a scan of the runs started while this one was open (queries/run_links.py)
        Param("links", bool, "Also list the child runs and the parent's agent (a few more requests).", default=True,
              flag="--links/--no-links"),
    ),
    summary="What happened in one run: tool calls with outcome and latency, LLM calls with tokens, signals.",
    description="One run step by step: signals with fixes, every tool call (ok/failed, latency), "
    "LLM calls with tokens, context growth.",
    examples=("dunetrace run 038327d0-3de", "dunetrace run 038327d0-3de0-40e9-9a68-612de708bd9a --json"),
))

register(Operation(
    name="compare", cli="compare", mcp="compare_runs", title="Compare runs", panel="Investigate",
    mcp_model=f"{V}.runs:Comparison", mcp_view=f"{V}.runs:comparison",
    query="dunetrace_cli.queries.runs:compare_runs", model="dunetrace_cli.models.runs:RunComparison",
    table=T, markdown=f"{MD}:render_comparison",
    params=(
        Param("run_id_1", str, "Run id, or any unique prefix of it.", metavar="RUN_1", complete="runs",
              min_length=4, max_length=256, mcp_help=P.RUN_ID.mcp_help),
        Param("run_id_2", str, "Run id, or any unique prefix of it.", metavar="RUN_2", complete="runs",
              min_length=4, max_length=256, mcp_help=P.RUN_ID.mcp_help),
        P.AGENT_OPT,
    ),
    summary="Two runs side by side: duration, steps, tokens, tool calls, signals.",
    description="Two runs side by side (e.g. failing vs clean): duration, steps, tokens, tool calls, "
    "LLM calls, signals, and what differs.",
    examples=("dunetrace compare df92fa13-c10 038327d0-3de", "dunetrace compare df92fa13-c10 038327d0-3de --json"),
))
