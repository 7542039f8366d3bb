"""search_issues, list_agent_issues and list_agent_fixes as Markdown, rendered from their views."""

from __future__ import annotations

from dunetrace_cli.mcp.views.issues import FixPage, IssuePage, agent_issue_page, fix_page, issue_page
from dunetrace_cli.models.fixes import FixList
from dunetrace_cli.models.issues import IssueList
from dunetrace_cli.render.markdown._common import UNTRUSTED_LABEL, code, join, next_lines, page_line, table


def _notes(items: list[str] | None) -> list[str]:
    return [f"Note: {code(n)}" for n in items or []]


def issues_markdown(view: IssuePage) -> str:
    f = view.filters
    scope = f"agent {code(f['agent_id'])}" if f.get("agent_id") else "every agent"
    head = f"# Issues ({f.get('status', 'all')}) for {scope}: {page_line(view.page, 'issues')}"
    narrowed = ", ".join(f"{k}={code(v)}" for k, v in f.items() if k in ("query", "failure_type"))
    if narrowed:
        head += f"\nMatching {narrowed} (query: agent id, failure type or resolution notes)."
    if not view.issues.rows:
        hint = [] if view.filters.get("status") == "all" else ['status="all" includes every status.']
        return join([head, "No issues match.", *hint, *_notes(view.notes), *next_lines(view.next_steps)])
    return join([head, f"({UNTRUSTED_LABEL}; root cause and fix: get_issue)", *table(view.issues),
                 *_notes(view.notes), *next_lines(view.next_steps)])


def fixes_markdown(view: FixPage) -> str:
    head = f"# Fixes applied for {code(view.agent_id)}: {page_line(view.page, 'fixes')}"
    if not view.fixes.rows:
        empty = "None at this offset." if view.page.past_end else \
            "No fixes recorded yet (a fix is recorded when one is copied or opened as a PR)."
        return join([head, empty, *_notes(view.notes), *next_lines(view.next_steps)])
    return join([head, f"({UNTRUSTED_LABEL})", *table(view.fixes), *_notes(view.notes), *next_lines(view.next_steps)])


def render_issue_page(result: IssueList, *, now: float, tool: str = "search_issues") -> str:
    return issues_markdown(agent_issue_page(result) if tool == "list_agent_issues" else issue_page(result))


def render_fix_page(result: FixList, *, now: float) -> str:
    return fixes_markdown(fix_page(result))


def markdown(view: IssuePage | FixPage, *, now: float) -> str:
    """The text of either view (the module's entry point, like every module here)."""
    return fixes_markdown(view) if isinstance(view, FixPage) else issues_markdown(view)
