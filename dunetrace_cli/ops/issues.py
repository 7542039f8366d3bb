"""Issues, applied fixes and the failure-pattern detail (newer servers; the March one answers one sentence)."""

from __future__ import annotations

from dataclasses import replace

from dunetrace_cli import params as P
from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation, register

Q, M = "dunetrace_cli.queries", "dunetrace_cli.models"
TBL, MD = "dunetrace_cli.render.tables_issues", "dunetrace_cli.render.markdown_issues"
V, PMD = "dunetrace_cli.mcp.views.issues", "dunetrace_cli.render.markdown.issues"  # MCP: compact pages


def mcp_limit(what: str) -> Param:
    """MCP only: a page of 1-100 rows (the CLI lists every row the route answers). No description in the
    catalog (context in every session): the name, default and maximum say it."""
    return replace(P.limit(20, 100, what=what), faces="mcp", help="", mcp_help=None)


STATUS_CHOICES = ("open", "reopened", "resolved", "active", "all")
ISSUE_ID = Param("issue_id", int, "Issue id (#N in `dunetrace issues`).", metavar="ISSUE_ID", ge=1,
                 mcp_help="Issue id (#N).")
ISSUE_STATUS = Param(
    "status", str, "open, reopened, resolved; or active (open + reopened, the CLI's default) or all. "
    "Empty: every status.", default="active", flag="--status", choices=STATUS_CHOICES, case_insensitive=True,
    mcp_default="", mcp_help="active = open + reopened; empty = all.",
)
QUERY = Param(
    "query", str, "Substring of the agent id, failure type or resolution notes (empty: everything).", default=None,
    flag="--query", short="-q", max_length=200, mcp_help="Substring of agent id, failure type or resolution notes.",
)

register(Operation(
    name="issues",
    cli="issues",
    mcp="search_issues",
    query=f"{Q}.issues:find_issues",
    model=f"{M}.issues:IssueList",
    table=f"{TBL}:issue_list",
    markdown=f"{PMD}:render_issue_page",
    mcp_model=f"{V}:IssuePage", mcp_view=f"{V}:issue_page",
    summary="Issues (one per agent and failure type, tracked across runs): one agent's, or a search across every agent.",
    title="Search issues",
    description="Issues (one per agent and failure type) across agents, newest first.",
    panel="Triage",
    examples=("dunetrace issues langchain-example-agent", "dunetrace issues --query loop --status all"),
    params=(P.AGENT_OPTIONAL_ARG, QUERY, ISSUE_STATUS, P.FAILURE_TYPE, P.limit(20, 1000, what="issues", mcp_max=100),
            P.OFFSET),
    list_result=True,
))

register(Operation(
    name="agent_issues",
    mcp="list_agent_issues",
    query=f"{Q}.issues:list_agent_issues",
    model=f"{M}.issues:IssueList",
    table=f"{TBL}:issue_list",
    markdown=f"{PMD}:render_issue_page", markdown_kw={"tool": "list_agent_issues"},
    mcp_model=f"{V}:IssuePage", mcp_view=f"{V}:agent_issue_page",
    summary="One agent's issues with a status: open (default), resolved, reopened or all. "
    "An issue auto-resolves after 5 consecutive clean runs and reopens when the failure recurs.",
    title="Agent issues",
    description="One agent's issues by status. One resolves after 5 clean runs in a row and reopens on recurrence.",
    params=(P.AGENT_ARG, Param(
        "status", str, "open (default), reopened, resolved, active (open + reopened) or all.", default="open",
        flag="--status", mcp_help="active = open + reopened.",
        choices=STATUS_CHOICES, case_insensitive=True,
    ), mcp_limit("issues"), P.OFFSET),
    list_result=True,
))

register(Operation(
    name="issue",
    cli="issue",
    mcp="get_issue",
    query=f"{Q}.issues:get_issue",
    model=f"{M}.issues:IssueDetail",
    table=f"{TBL}:issue_detail",
    markdown=f"{MD}:render_issue_detail",
    summary="One issue: status, affected runs, and the server's root cause and suggested fix "
    "(the server may run an LLM explanation first: 5-15 s).",
    title="Issue",
    description="One issue: affected runs, the server's root cause and fix (it may run an LLM explanation first: 5-15 s).",
    examples=("dunetrace issue 13", "dunetrace issue 13 --json"),
    params=(ISSUE_ID,),
))

register(Operation(
    name="fixes",
    cli="fixes",
    mcp="list_agent_fixes",
    query=f"{Q}.fixes:list_agent_fixes",
    model=f"{M}.fixes:FixList",
    table=f"{TBL}:fix_list",
    markdown=f"{PMD}:render_fix_page",
    mcp_model=f"{V}:FixPage", mcp_view=f"{V}:fix_page",
    summary="Fixes applied for an agent's signals, how they were applied, and whether the failure stopped.",
    title="Agent fixes",
    description="Fixes applied for an agent's signals and whether each worked.",
    examples=("dunetrace fixes langchain-example-agent", "dunetrace fixes retry-agent --json"),
    params=(P.AGENT_ARG, mcp_limit("fixes"), P.OFFSET),
    list_result=True,
))

register(Operation(
    name="fix_status",
    mcp="get_fix_status",
    query=f"{Q}.fixes:get_fix_status",
    model=f"{M}.fixes:FixStatus",
    table=f"{TBL}:fix_status",
    markdown=f"{MD}:render_fix_status",
    summary="Whether a fix was applied for a signal and whether it worked (verified, likely_fixed, "
    "still_occurring, insufficient_data). The CLI shows it in `dunetrace signal ID`.",
    title="Fix status",
    description="Whether a signal's fix was applied and worked: verified, likely_fixed, still_occurring or insufficient_data.",
    params=(P.SIGNAL_ID, Param("agent_id", str, "Optional; not needed.", default=None, faces="mcp")),
))

register(Operation(
    name="pattern",
    mcp="get_failure_pattern_detail",
    query=f"{Q}.failure_pattern:get_failure_pattern_detail",
    model=f"{M}.issues:FailurePatternDetail",
    table=f"{TBL}:pattern_detail",
    markdown=f"{MD}:render_pattern_detail",
    summary="One failure type across an agent's runs: evidence aggregates, where in the run it fires, a 14-day "
    "trend, co-occurring failures and the top runs. Any case is accepted (tool_loop -> TOOL_LOOP).",
    title="Failure pattern detail",
    description="One failure type across an agent's runs: evidence aggregates, where it fires, 14-day trend, "
    "co-occurring types, top runs.",
    params=(P.AGENT_ARG, Param(
        "failure_type", str, "Failure type, e.g. TOOL_LOOP (any case).", metavar="FAILURE_TYPE", mcp_help="e.g. TOOL_LOOP (any case).",
        complete="failure_types", max_length=64, parse=P._failure_type,
    )),
))
