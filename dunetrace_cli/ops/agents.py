"""Agent-level operations: agents, summary, health, patterns, tokens."""

from dunetrace_cli import params as P
from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation, register

V = "dunetrace_cli.mcp.views"  # the compact MCP views (structuredContent)

T = "dunetrace_cli.render.tables:render"
MD = "dunetrace_cli.render.markdown"

register(Operation(
    name="agents", cli="agents", mcp="list_agents", title="List agents",
    mcp_model=f"{V}.agents:AgentPage", mcp_view=f"{V}.agents:agent_page",
    query="dunetrace_cli.queries.agents:list_agents", model="dunetrace_cli.models.agents:AgentList",
    table=T, markdown=f"{MD}:render_agent_list", list_result=True,
    params=(
        Param("health", bool, "Add each agent's health score 0-100 (one request per agent, 4 agents at a time).",
              default=False, flag="--health", faces="cli"),
        P.OFFSET,
    ),
    summary="List every agent with run and signal counts, newest activity first.",
    description="Every monitored agent: runs, signal counts "
    "(CRITICAL/HIGH), top failure types, last seen. Use it to find agent ids.",
    examples=(
        "dunetrace agents",
        "dunetrace agents --health",
        "dunetrace agents | grep -c UNREAD_TOOL_ERROR",
        "dunetrace agents --format csv --fields agent_id,signal_count,top_failure",
    ),
))

register(Operation(
    name="summary", cli="summary", mcp="summarize_agent", title="Summarize an agent",
    mcp_model=f"{V}.summary:Diagnosis", mcp_view=f"{V}.summary:diagnosis",
    query="dunetrace_cli.queries.summary:summarize_agent", model="dunetrace_cli.models.summary:AgentDiagnosis",
    table=T, markdown=f"{MD}:render_diagnosis", params=(P.AGENT_ARG,),
    summary="Start here: health, failure breakdown, newest signals with their first fix.",
    description="Start here. An agent's diagnosis: health score, failing vs clean runs, "
    "failure breakdown (systemic or not), newest signals with their first fix, next steps.",
    examples=("dunetrace summary langchain-example-agent", "dunetrace summary rag-agent --json | jq .breakdown"),
))

register(Operation(
    name="health", cli="health", mcp="get_agent_health", title="Agent health score",
    mcp_model=f"{V}.agents:Health", mcp_view=f"{V}.agents:health",
    query="dunetrace_cli.queries.health:get_health", model="dunetrace_cli.models.health:HealthScore",
    table=T, markdown=f"{MD}:render_health", params=(P.AGENT_ARG,),
    summary="Health score 0-100 and its four components (failures, loops, tokens, latency).",
    description="Health score 0-100 with its components: failure_rate (40), loop_avoidance (25), "
    "token_efficiency (20), latency (15), over the last 30 days.",
    examples=("dunetrace health retry-agent", "dunetrace health retry-agent --json | jq .score"),
))

register(Operation(
    name="patterns", cli="patterns", mcp="get_agent_patterns", title="Agent failure patterns",
    mcp_model=f"{V}.patterns:PatternsView", mcp_view=f"{V}.patterns:patterns",
    query="dunetrace_cli.queries.failure_pattern:patterns_or_detail", model="dunetrace_cli.models.insights:Patterns",
    table=T, markdown=f"{MD}:render_patterns",
    params=(
        P.AGENT_ARG,
        Param("days", int, "Days of daily trend (7-30).", default=14, dest="trend_days", flag="--days",
              ge=7, le=30, faces="cli"),
        # CLI only: one failure type in depth, as MCP get_failure_pattern_detail (ops/issues.py)
        Param("failure_type", str, "One failure type in depth: evidence, where it fires, co-occurring types, "
              "top runs (any case).", default=None, flag="--type", short="-t", complete="failure_types",
              max_length=64, parse=P._failure_type, faces="cli"),
    ),
    summary="Is a failure systemic (>=10% of runs in 7 days) or a one-off? Daily trend and worst day.",
    description="Systemic (>=10% of runs over 7 days) vs occasional failure types, daily trend, "
    "worst day, inputs that keep failing, and per-version signal rates.",
    examples=(
        "dunetrace patterns retry-agent",
        "dunetrace patterns rag-agent --days 30",
        "dunetrace patterns langchain-example-agent --type tool_loop",
        "dunetrace patterns retry-agent --json | jq '.patterns[] | {failure_type, daily_counts, trend_verdict}'",
    ),
))

register(Operation(
    name="tokens", cli="tokens", mcp="get_agent_token_stats", title="Agent token stats",
    mcp_model=f"{V}.agents:Tokens", mcp_view=f"{V}.agents:tokens",
    query="dunetrace_cli.queries.tokens:get_token_stats", model="dunetrace_cli.models.tokens:TokenStats",
    table=T, markdown=f"{MD}:render_token_stats", params=(P.AGENT_ARG,),
    summary="Token use and spend on failing runs over 1, 7 and 30 days.",
    description="Token use and cost per 24 h / 7 d / 30 d: share spent in failed runs, "
    "avoidable excess, projected monthly waste, spend by failure type.",
    examples=("dunetrace tokens support-agent-lc", "dunetrace tokens support-agent-lc --json"),
))
