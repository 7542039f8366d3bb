"""Voice calls, runtime policies and custom detectors: the read side (newer servers only)."""

from __future__ import annotations

from dunetrace_cli import params as P
from dunetrace_cli.domain.voice import COMPLETION_STATUSES, COST_BUCKETS
from dunetrace_cli.ops.issues import mcp_limit
from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation, register

Q, M = "dunetrace_cli.queries", "dunetrace_cli.models"
TBL, MD = "dunetrace_cli.render.tables_issues", "dunetrace_cli.render.markdown_issues"
V, PMD = "dunetrace_cli.mcp.views.voice", "dunetrace_cli.render.markdown.voice"  # MCP: compact pages

AGENT_FILTER = Param(
    "agent_id", str, "Only this agent; omit for every agent.", default=None, metavar="AGENT", complete="agents",
    max_length=256, parse=P._strip, mcp_help="Only this agent.",
)

register(Operation(
    name="calls",
    cli="calls",
    mcp="list_voice_calls",
    query=f"{Q}.calls:list_voice_calls",
    model=f"{M}.calls:CallList",
    table=f"{TBL}:call_list",
    markdown=f"{PMD}:render_call_page",
    mcp_model=f"{V}:CallPage", mcp_view=f"{V}:call_page",
    summary="Voice calls, newest first: duration, how the call ended, silence share, voice signals and cost.",
    title="Voice calls",
    description="Voice calls, newest first: duration, how it ended, silence, voice signals, cost.",
    panel="Voice and guardrails",
    examples=("dunetrace calls", "dunetrace calls --status dropped"),
    params=(
        AGENT_FILTER,
        Param("completion_status", str, "natural, dropped or escalated.", default=None, flag="--status",
              choices=COMPLETION_STATUSES, case_insensitive=True),
        Param("cost_bucket", str, "low (< $0.10), medium ($0.10-$1) or high (> $1).", default=None, flag="--cost",
              choices=COST_BUCKETS, case_insensitive=True),
        P.limit(20, 500, what="calls", mcp_max=100),
        P.OFFSET,
    ),
    list_result=True,
))

register(Operation(
    name="call",
    cli="call",
    mcp="get_call_detail",
    query=f"{Q}.calls:get_call_detail",
    model=f"{M}.calls:CallDetail",
    table=f"{TBL}:call_detail",
    markdown=f"{MD}:render_call_detail",
    summary="One voice call: metrics, cost per stage (STT, LLM, TTS, telephony), voice signals and recordings.",
    title="Voice call",
    description="One voice call: metrics, cost per stage, voice signals, recordings.",
    panel="Voice and guardrails",
    examples=("dunetrace call 1042", "dunetrace call 1042 --json"),
    params=(Param("conversation_id", int, "Call id (from `dunetrace calls`).", metavar="CALL_ID", ge=1,
                  mcp_help="Call id (list_voice_calls)."),),
))

register(Operation(
    name="policies",
    cli="policies",
    mcp="list_policies",
    query=f"{Q}.policies:list_policies",
    model=f"{M}.policies:PolicyList",
    table=f"{TBL}:policy_list",
    markdown=f"{PMD}:render_policy_page",
    mcp_model=f"{V}:PolicyPage", mcp_view=f"{V}:policy_page",
    summary="Runtime policies (guardrails the SDK enforces in the agent's process): condition, action, enabled.",
    title="Policies",
    description="Runtime policies the SDK enforces in the agent: condition, action, enabled, priority.",
    panel="Voice and guardrails",
    examples=("dunetrace policies", "dunetrace policies langchain-example-agent"),
    params=(AGENT_FILTER, mcp_limit("policies"), P.OFFSET),
    list_result=True,
))

register(Operation(
    name="detectors",
    cli="detectors",
    mcp="list_custom_detectors",
    query=f"{Q}.detectors:list_custom_detectors",
    model=f"{M}.detectors:DetectorList",
    table=f"{TBL}:detector_list",
    markdown=f"{PMD}:render_detector_page",
    mcp_model=f"{V}:DetectorPage", mcp_view=f"{V}:detector_page",
    summary="Custom detectors: status (shadow evaluates silently, active alerts, paused is off) and fire counts.",
    title="Custom detectors",
    description="Custom detectors: status (shadow = silent, active = alerts, paused = off), fire counts.",
    panel="Voice and guardrails",
    examples=("dunetrace detectors", "dunetrace detectors langchain-example-agent"),
    params=(AGENT_FILTER, mcp_limit("detectors"), P.OFFSET),
    list_result=True,
))
