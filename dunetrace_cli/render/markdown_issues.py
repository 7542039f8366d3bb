"""MCP text for one issue, a fix status, the failure-pattern detail, one call and write results.

The paged lists (issues, fixes, calls, policies, detectors) are rendered from their views in
``render/markdown/issues.py`` and ``render/markdown/voice.py``.

Same rules as ``render/markdown.py``: the answer first, absolute UTC times with an age, untrusted
text (resolution notes, LLM root causes and fixes, evidence, descriptions) fenced and labelled,
next steps phrased from the registry as tool calls.
"""

from __future__ import annotations

import json
from typing import Any

from dunetrace_cli.render.markdown import UNTRUSTED_LABEL, cell, code, conf, fence, fit, pct, sev, usd, when
from dunetrace_cli.render.sanitize import clean


def _head(*columns: str) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _untrusted(title: str, text: str) -> list[str]:
    return [f"**{title}** ({UNTRUSTED_LABEL}):", fence(clean(text))]


def _next(steps: list[Any]) -> list[str]:
    from dunetrace_cli import registry

    lines = []
    for step in steps:
        try:
            lines.append(f"- call {registry.mcp_call(step)}: {step.reason}")
        except (KeyError, ValueError):
            continue
    return ["", "**Next:**", *lines] if lines else []


def _notes(notes: list[str]) -> list[str]:
    return [f"Note: {n}" for n in notes]


def render_issue_detail(result: Any, *, now: float) -> str:
    lines = [
        f"# Issue #{result.id}: {clean(result.failure_type, newlines=False)} on {code(result.agent_id)} — {result.status}",
        f"{result.affected_runs_count} affected run(s), {result.clean_runs_since} clean run(s) since the last one"
        f" (it auto-resolves after 5). First {when(result.first_seen, now)}, last {when(result.last_seen, now)}.",
    ]
    if result.resolved_at is not None:
        lines.append(f"Resolved {'manually' if result.manually_resolved else 'automatically'} {when(result.resolved_at, now)}.")
    if result.resolution_notes:
        lines += _untrusted("Resolution notes", result.resolution_notes)
    if result.root_cause:
        lines += _untrusted("Root cause (server LLM)", result.root_cause)
    if result.suggested_fix:
        lines += _untrusted("Suggested fix (server LLM)", result.suggested_fix)
    if result.affected_runs:
        lines += ["", "Affected runs (highest confidence first):", *_head("run", "step", "confidence", "detected")]
        lines += [f"| {code(r.run_id)} | {r.step_index if r.step_index is not None else '—'} | {conf(r.confidence)} | {when(r.detected_at, now)} |"
                  for r in result.affected_runs]
    return fit(lines, [], _notes(result.notes) + _next(getattr(result, "next_steps", [])), more=lambda n: "")


def render_pattern_detail(result: Any, *, now: float) -> str:
    o, sd = result.overview, result.step_distribution
    lines = [
        f"# {clean(result.failure_type, newlines=False)} on {code(result.agent_id)}: {o.affected_runs} of {o.total_runs} runs ({pct(o.rate, digits=1)})",
        f"Average confidence {conf(o.avg_confidence)}; first {when(o.first_seen, now)}, last {when(o.last_seen, now)}; "
        "severities " + (", ".join(f"{sev(k)} {v}" for k, v in o.severity_breakdown.items() if v) or "none") + ".",
        f"Fires at step p25 {sd.p25}, p50 {sd.p50}, p75 {sd.p75} (avg {sd.avg_step}).",
    ]
    if result.daily_trend:
        lines.append("14-day affected runs: " + ", ".join(f"{d.day[5:]} {d.affected_runs}/{d.total_runs}" for d in result.daily_trend if d.total_runs))
    if result.evidence_aggregates:
        lines += ["", f"Evidence aggregates ({UNTRUSTED_LABEL}):", fence(clean(json.dumps(result.evidence_aggregates, ensure_ascii=False, indent=1)), "json")]
    if result.co_occurring:
        lines.append("Co-occurs with: " + ", ".join(f"{c.failure_type} in {pct(c.co_rate)} ({c.co_count} runs)" for c in result.co_occurring) + ".")
    if result.top_runs:
        lines += ["", "Top runs:", *_head("run", "severity", "step", "confidence", "detected")]
        lines += [f"| {code(r.run_id)} | {sev(r.severity)} | {r.step_index} | {conf(r.confidence)} | {when(r.detected_at, now)} |" for r in result.top_runs]
    if not o.affected_runs:
        lines.append("No signals of this type for this agent.")
    return fit(lines, [], _next(getattr(result, "next_steps", [])), more=lambda n: "")


def render_fix_status(result: Any, *, now: float) -> str:
    if not result.fix_applied:
        return f"# Signal #{result.signal_id}: no fix applied yet"
    return "\n".join([
        f"# Signal #{result.signal_id}: fix {result.verdict or '?'}",
        f"Applied {when(result.applied_at, now)} via {cell(result.applied_via or '?')}; {result.runs_after_fix or 0} run(s) since,"
        f" {result.recurrences_after_fix or 0} recurrence(s).",
        "Verdicts: verified = 10+ runs and no recurrence; likely_fixed = 5+ runs, none; still_occurring = it recurred.",
    ])


def render_call_detail(result: Any, *, now: float) -> str:
    c = result
    lines = [
        f"# Call #{c.id} ({code(c.agent_id)}): {c.duration_seconds:.0f}s, ended {c.completion_status or '?'}",
        f"{c.run_count} run(s), silence {pct(c.silence_pct)} (a 0-1 fraction on the API), agent talk {c.agent_talk_ms} ms,"
        f" caller {c.caller_talk_ms} ms, cost {usd(c.cost_usd)}"
        + (" (" + ", ".join(f"{cell(k)} {usd(v)}" for k, v in c.cost_breakdown.items()) + ")" if c.cost_breakdown else "") + ".",
        "Voice signals: " + (", ".join(code(s) for s in c.voice_signals) or "none") + ".",
    ]
    if c.recordings:
        lines += [f"Recordings ({UNTRUSTED_LABEL}):", fence(clean(json.dumps(c.recordings, ensure_ascii=False, indent=1)), "json")]
    return fit(lines, [], [], more=lambda n: "")


def render_write_result(result: Any, *, now: float) -> str:
    lines = [("Done: " if result.changed else "No change: ") + clean(result.message)]
    if result.body is not None:
        lines += [f"Server answer ({UNTRUSTED_LABEL}):", fence(clean(json.dumps(result.body, ensure_ascii=False, indent=1, default=str)), "json")]
    return fit(lines, [], _notes(result.notes), more=lambda n: "")
