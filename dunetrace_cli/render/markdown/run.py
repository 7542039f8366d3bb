"""get_run_detail as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.runs import RunDetailView, run_detail
from dunetrace_cli.models.runs import RunView
from dunetrace_cli.render.markdown._common import UNTRUSTED_LABEL, cell, code, join, next_lines, table, when


def markdown(view: RunDetailView, *, now: float) -> str:
    facts = [
        f"agent {code(view.agent_id)}" + (f" {code(view.agent_version)}" if view.agent_version else ""),
        f"started {when(view.started_at, now)}",
        f"{cell(view.duration_s)}s",
        f"{view.steps} steps",
        f"{cell(view.tokens)} tokens",
        f"exit {code(view.exit_reason or '—')}",
    ]
    asked = f" (from the prefix {code(view.requested_id)})" if view.requested_id else ""
    lines = [f"# Run {code(view.run_id)}{asked}", "; ".join(facts)]
    if view.error:
        lines.append(f"Error ({UNTRUSTED_LABEL}): {code(view.error)}")
    if view.signals.rows:
        lines += [f"Signals ({UNTRUSTED_LABEL}):", *table(view.signals)]
    else:
        lines.append("No failure signals on this run.")
    shown, n = len(view.tool_calls.rows), view.counts
    if n["tool_calls"]:
        more = "" if shown == n["tool_calls"] else f", {shown} shown (failed first)"
        lines += [f"Tool calls: {n['tool_calls']}, {n['failed_tool_calls']} failed{more} ({UNTRUSTED_LABEL}):",
                  *table(view.tool_calls)]
    llm = f"LLM calls: {n['llm_calls']}, {n['prompt_tokens']} prompt + {n['completion_tokens']} completion tokens"
    if view.context:
        c = view.context
        llm += (f"; prompt grew {c.first_tokens} -> {c.last_tokens} ({c.growth_factor}x)"
                + (", context bloat" if c.flagged else ""))
    lines.append(llm)
    related = view.related_runs or {}
    if related.get("parent"):
        lines.append(f"Parent run: {code(related['parent'])}")
    if related.get("children"):
        lines.append("Child runs: " + ", ".join(
            f"{code(c['run_id'])} ({code(c['agent_id'])}, {c['signals']} signals)" for c in related["children"]))
    if view.notes:
        lines.append("Notes: " + "; ".join(view.notes))
    return join(lines + next_lines(view.next_steps))


def render_run_view(result: RunView, *, now: float) -> str:
    return markdown(run_detail(result), now=now)
