"""Voice calls, runtime policies and custom detectors: the read side (newer servers only)."""

from __future__ import annotations

from dunetrace_cli import params as P
from dunetrace_cli.domain.voice import COMPLETION_STATUSES, COST_BUCKETS
from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation, register

Q, M = "dunetrace_cli.queries", "dunetrace_cli.models"
TBL, MD = "dunetrace_cli.render.tables_issues", "dunetrace_cli.render.markdown_issues"

AGENT_FILTER = Param(
    "agent_id", str, "Only this agent; omit for every agent.", default=None, metavar="AGENT", complete="agents",
    max_length=256, parse=P._strip,
)

register(Operation(
    name="calls",
    cli="calls",
    mcp="list_voice_calls",
    query=f"{Q}.calls:list_voice_calls",
    model=f"{M}.calls:CallList",
    table=f"{TBL}:call_list",
    markdown=f"{MD}:render_call_list",
    summary="Voice calls, newest first: duration, how the call ended, silence share, voice signals and cost.",
    title="List voice calls",
    panel="Voice and guardrails",
    examples=("dunetrace calls", "dunetrace calls --status dropped"),
    params=(
        AGENT_FILTER,
        Param("completion_status", str, "natural, dropped or escalated.", default=None, flag="--status",
              choices=COMPLETION_STATUSES, case_insensitive=True),
        Param("cost_bucket", str, "low (< $0.10), medium ($0.10-$1) or high (> $1).", default=None, flag="--cost",
              choices=COST_BUCKETS, case_insensitive=True),
        P.limit(20, 500, what="calls", mcp_max=100),
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
    title="Get a voice call",
    panel="Voice and guardrails",
    examples=("dunetrace call 1042", "dunetrace call 1042 --json"),
    params=(Param("conversation_id", int, "Call id (from `dunetrace calls`).", metavar="CALL_ID", ge=1),),
))

register(Operation(
    name="policies",
    cli="policies",
    mcp="list_policies",
    query=f"{Q}.policies:list_policies",
    model=f"{M}.policies:PolicyList",
    table=f"{TBL}:policy_list",
    markdown=f"{MD}:render_policy_list",
    summary="Runtime policies (guardrails the SDK enforces in the agent's process): condition, action, enabled.",
    title="List policies",
    panel="Voice and guardrails",
    examples=("dunetrace policies", "dunetrace policies langchain-example-agent"),
    params=(AGENT_FILTER,),
    list_result=True,
))

register(Operation(
    name="detectors",
    cli="detectors",
    mcp="list_custom_detectors",
    query=f"{Q}.detectors:list_custom_detectors",
    model=f"{M}.detectors:DetectorList",
    table=f"{TBL}:detector_list",
    markdown=f"{MD}:render_detector_list",
    summary="Custom detectors: status (shadow evaluates silently, active alerts, paused is off) and fire counts.",
    title="List custom detectors",
    panel="Voice and guardrails",
    examples=("dunetrace detectors", "dunetrace detectors langchain-example-agent"),
    params=(AGENT_FILTER,),
    list_result=True,
))
