"""MCP text for issues, fixes, the failure-pattern detail, calls, policies, detectors and write results.

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


def render_issue_list(result: Any, *, now: float) -> str:
    scope = f"agent {code(result.agent_id)}" if result.agent_id else "every agent"
    head = [f"# Issues ({result.status}) for {scope}: {len(result.issues)} shown of {result.total}"]
    if result.query:
        head.append(f"Matching {code(result.query)} in agent id, failure type or resolution notes.")
    if not result.issues:
        hint = [] if result.status == "all" else ["Use status=\"all\" to include every status."]
        return "\n".join(head + ["No issues match."] + hint + _notes(result.notes))
    rows = [
        f"| {i.id} | {i.status} | {cell(clean(i.agent_id, newlines=False))} | {cell(i.failure_type)} | {i.affected_runs} |"
        f" {i.clean_runs_since} | {when(i.last_seen, now)} |"
        for i in result.issues
    ]
    head += ["", *_head("id", "status", "agent", "failure type", "affected runs", "clean runs since", "last seen")]
    return fit(head, rows, _notes(result.notes) + _next(getattr(result, "next_steps", [])),
               more=lambda n: f"… {n} more rows in structuredContent.issues.")


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


def render_fix_list(result: Any, *, now: float) -> str:
    head = [f"# Fixes applied for {code(result.agent_id)}: {len(result.fixes)}"]
    if not result.fixes:
        return "\n".join(head + ["No fixes recorded yet (a fix is recorded when one is copied or opened as a PR)."])
    head += ["", *_head("id", "signal", "failure type", "fix type", "via", "applied", "runs after", "recurrences", "verdict")]
    rows = [f"| {f.id} | {f.signal_id} | {cell(f.failure_type)} | {cell(f.fix_type)} | {cell(f.applied_via)} | {when(f.applied_at, now)} |"
            f" {f.runs_after} | {f.recurrences_after} | {f.verdict} |" for f in result.fixes]
    return fit(head, rows, _notes(result.notes), more=lambda n: f"… {n} more in structuredContent.fixes.")


def render_fix_status(result: Any, *, now: float) -> str:
    if not result.fix_applied:
        return f"# Signal #{result.signal_id}: no fix applied yet"
    return "\n".join([
        f"# Signal #{result.signal_id}: fix {result.verdict or '?'}",
        f"Applied {when(result.applied_at, now)} via {cell(result.applied_via or '?')}; {result.runs_after_fix or 0} run(s) since,"
        f" {result.recurrences_after_fix or 0} recurrence(s).",
        "Verdicts: verified = 10+ runs and no recurrence; likely_fixed = 5+ runs, none; still_occurring = it recurred.",
    ])


def render_call_list(result: Any, *, now: float) -> str:
    head = [f"# Voice calls: {len(result.calls)} shown of {result.total}"]
    if not result.calls:
        return "\n".join(head + ["No voice calls match."] + _notes(result.notes))
    head += ["", *_head("id", "agent", "last run", "duration", "ended", "silence", "voice signals", "cost")]
    rows = [f"| {c.id} | {cell(clean(c.agent_id, newlines=False))} | {when(c.last_run_at, now)} | {c.duration_seconds:.0f}s |"
            f" {c.completion_status} | {pct(c.silence_pct)} | {c.voice_signal_count} | {usd(c.cost_usd)} |" for c in result.calls]
    return fit(head, rows, _notes(result.notes), more=lambda n: f"… {n} more in structuredContent.calls.")


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


def render_policy_list(result: Any, *, now: float) -> str:
    head = [f"# Policies{' for ' + code(result.agent_id) if result.agent_id else ''}: {len(result.policies)}"]
    if not result.policies:
        return "\n".join(head + ["No policies configured."])
    head += ["", *_head("id", "name", "agent", "enabled", "priority", "condition", "action")]
    rows = [f"| {p.id} | {cell(clean(p.name, newlines=False))} | {cell(p.agent_id)} | {'yes' if p.enabled else 'no'} | {p.priority} |"
            f" {code(json.dumps(p.condition, ensure_ascii=False))} | {code(json.dumps(p.action, ensure_ascii=False))} |" for p in result.policies]
    return fit(head, rows, [], more=lambda n: f"… {n} more in structuredContent.policies.")


def render_detector_list(result: Any, *, now: float) -> str:
    head = [f"# Custom detectors{' for ' + code(result.agent_id) if result.agent_id else ''}: {len(result.detectors)}"]
    if not result.detectors:
        return "\n".join(head + ["No custom detectors."])
    head += ["", "Status: shadow = evaluated silently, active = alerts, paused = not evaluated.", *_head("id", "name", "agent", "status", "runs", "shadow fires", "description")]
    rows = [f"| {d.id} | {cell(clean(d.name, newlines=False))} | {cell(d.agent_id)} | {d.status} | {d.total_runs} | {d.shadow_fire_count} |"
            f" {code(d.description, 100)} |" for d in result.detectors]
    return fit(head, rows, [], more=lambda n: f"… {n} more in structuredContent.detectors.")


def render_write_result(result: Any, *, now: float) -> str:
    lines = [("Done: " if result.changed else "No change: ") + clean(result.message)]
    if result.body is not None:
        lines += [f"Server answer ({UNTRUSTED_LABEL}):", fence(clean(json.dumps(result.body, ensure_ascii=False, indent=1, default=str)), "json")]
    return fit(lines, [], _notes(result.notes), more=lambda n: "")
