"""search_issues / list_agent_issues (a page of issues) and list_agent_fixes (a page of applied fixes).

Rows are ids, status, counts and types; resolution notes, root causes and fix text are in
``get_issue`` / ``get_fix_status``, the detail tools each row's next step names.
"""

from __future__ import annotations

from typing import Any

from dunetrace_cli.mcp.views._base import UNTRUSTED, Page, Step, Table, View, notes, page_of, step, steps, text, when
from dunetrace_cli.models.fixes import FixList
from dunetrace_cli.models.issues import IssueList

ISSUE_COLUMNS = ["id", "status", "failure_type", "agent_id", "affected_runs", "clean_runs_since", "last_seen"]
FIX_COLUMNS = ["id", "signal_id", "failure_type", "severity", "fix_type", "applied_via", "applied_at", "runs_after",
               "recurrences_after", "verdict"]
MAX_ROWS = 100  # rows in one answer (~9,000 characters at most); the rest by the next page


class IssuePage(View):
    """Issues matching the filters (a page of them); one per agent and failure type."""

    filters: dict[str, Any]  # agent_id, status, query, failure_type as applied
    page: Page
    issues: Table  # ISSUE_COLUMNS; agent_id is left out when the list is one agent's
    notes: list[str] | None = None
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


class FixPage(View):
    """Fixes applied for an agent's signals, newest first, and the server's verdict on each."""

    agent_id: str
    page: Page
    fixes: Table  # FIX_COLUMNS
    notes: list[str] | None = None
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


def issue_page(result: IssueList, *, tool: str = "search_issues") -> IssuePage:
    rows_in = result.issues[:MAX_ROWS]
    one_agent = tool == "list_agent_issues" or (result.agent_id is not None and not result.query
                                                and not result.failure_type)
    columns = [c for c in ISSUE_COLUMNS if not (one_agent and c == "agent_id")]
    rows = []
    for i in rows_in:
        row: dict[str, Any] = {
            "id": i.id, "status": text(i.status, 16), "failure_type": text(i.failure_type, 64),
            "agent_id": text(i.agent_id, 64), "affected_runs": i.affected_runs, "clean_runs_since": i.clean_runs_since,
            "last_seen": when(i.last_seen),
        }
        rows.append([row[c] for c in columns])
    plan = []
    if rows_in:
        first = next((i for i in rows_in if i.status != "resolved"), rows_in[0])
        plan.append(step("issue", f"root cause and fix of #{first.id} ({text(first.failure_type, 64)})",
                         issue_id=first.id))
    args: dict[str, Any]
    if tool == "list_agent_issues":
        op, args = "agent_issues", {"agent_id": result.agent_id, "status": None if result.status == "open" else result.status}
    else:
        op, args = "issues", {"agent_id": result.agent_id, "query": result.query, "failure_type": result.failure_type,
                              "status": None if result.status == "all" else result.status}
    size = min(result.limit or MAX_ROWS, MAX_ROWS)
    page, paging = page_of(op, offset=result.offset, shown=len(rows), total=result.total, size=size, **args)
    filters = {
        k: v for k, v in {
            "agent_id": result.agent_id and text(result.agent_id, 64), "status": result.status,
            "query": result.query and text(result.query, 64), "failure_type": result.failure_type,
        }.items() if v
    }
    return IssuePage(filters=filters, page=page, issues=Table(columns=columns, rows=rows),
                     notes=notes(result.notes, source=""), next_steps=steps(plan + paging))


def agent_issue_page(result: IssueList) -> IssuePage:
    """list_agent_issues' view (its next page is a list_agent_issues call)."""
    return issue_page(result, tool="list_agent_issues")


def fix_page(result: FixList) -> FixPage:
    shown = result.fixes[:MAX_ROWS]
    rows = [
        [f.id, f.signal_id, text(f.failure_type, 64), text(f.severity, 16), text(f.fix_type, 32),
         text(f.applied_via, 32), when(f.applied_at), f.runs_after, f.recurrences_after, text(f.verdict, 32)]
        for f in shown
    ]
    plan = []
    worst = next((f for f in shown if f.verdict == "still_occurring"), None)
    if worst is not None:
        plan.append(step("signal", f"fix #{worst.id} did not stop {text(worst.failure_type, 64)}: the signal and its fixes",
                         signal_id=worst.signal_id, agent_id=result.agent_id))
    size = min(result.limit or MAX_ROWS, MAX_ROWS)
    page, paging = page_of("fixes", offset=result.offset, shown=len(rows), total=result.total, size=size,
                           agent_id=result.agent_id)
    return FixPage(agent_id=text(result.agent_id, 64), page=page, fixes=Table(columns=FIX_COLUMNS, rows=rows),
                   notes=notes(result.notes, source=""), next_steps=steps(plan + paging))
