"""Signal operations: signals (search, every agent or one), agent signals (MCP), signal (one)."""

from dunetrace_cli import params as P
from dunetrace_cli.registry import Operation, register

V = "dunetrace_cli.mcp.views"  # the compact MCP views (structuredContent)

T = "dunetrace_cli.render.tables:render"
MD = "dunetrace_cli.render.markdown"

register(Operation(
    name="signals", cli="signals", mcp="search_signals", title="Search signals",
    mcp_model=f"{V}.signals:SignalPage", mcp_view=f"{V}.signals:signal_page",
    query="dunetrace_cli.queries.signals:search_signals", model="dunetrace_cli.models.signals:SignalSearch",
    table=T, markdown=f"{MD}:render_signal_search", markdown_kw={"tool": "search_signals"}, list_result=True,
    params=(
        P.AGENT_OPTIONAL_ARG, P.SEVERITY, P.FAILURE_TYPE, P.SINCE, P.SINCE_HOURS,
        P.limit(20, 10000, what="signals", mcp_max=200, mcp_default=30), P.OFFSET, P.FOLLOW, P.INTERVAL,
    ),
    mcp_order=("severity", "failure_type", "since_hours", "agent_id", "limit", "offset"),
    summary="Failure signals, newest first; across every agent unless AGENT is given.",
    description="Signals across all agents (or one), newest first, filtered by severity, failure type "
    "and age, with the exact match count.",
    examples=(
        "dunetrace signals --since 24h --severity high",
        "dunetrace signals langchain-example-agent --type TOOL_LOOP",
        "dunetrace signals --severity critical --json | jq '.signals[].id'",
    ),
))

register(Operation(
    name="agent_signals", mcp="get_agent_signals", title="Agent signals",
    mcp_model=f"{V}.signals:SignalPage", mcp_view=f"{V}.signals:agent_signal_page",
    query="dunetrace_cli.queries.signals:search_signals", model="dunetrace_cli.models.signals:SignalSearch",
    markdown=f"{MD}:render_signal_search", markdown_kw={"tool": "get_agent_signals"},
    params=(P.AGENT_ARG, P.limit(20, 10000, what="signals", mcp_max=100), P.SEVERITY, P.OFFSET),
    summary="The agent's newest failure signals, optionally of one severity (filtered server-side).",
))

register(Operation(
    name="signal", cli="signal", mcp="get_signal_detail", title="Signal detail", panel="Investigate",
    mcp_model=f"{V}.signals:SignalDetail", mcp_view=f"{V}.signals:signal_detail",
    query="dunetrace_cli.queries.fixes:get_signal_with_fix", model="dunetrace_cli.models.signals:SignalView",
    table=T, markdown=f"{MD}:render_signal_view", params=(P.SIGNAL_ID, P.AGENT_OPT),
    summary="One signal: evidence, impact and every suggested fix with its code.",
    description="One signal in full: what happened, why it matters, evidence, suggested fixes with code.",
    examples=("dunetrace signal 88", "dunetrace signal 88 --agent langchain-example-agent --json"),
))
