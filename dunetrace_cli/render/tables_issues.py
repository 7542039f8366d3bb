"""Tables for issues, fixes, the failure-pattern detail, calls, policies, detectors and write results.

Every server string goes through ``t()`` (a literal ``Text``) after ``clean`` (control and bidi
characters shown as escapes); next steps are phrased from the registry.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.render import timefmt
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.tables import Col, FitTable, heading, notes, pct, sev, sparkline, table

STATUS_STYLE = {"open": "bold red", "reopened": "bold yellow", "resolved": "green"}
VERDICT_STYLE = {"verified": "green", "likely_fixed": "green", "still_occurring": "bold red", "insufficient_data": "dim"}


def t(value: Any, style: str | None = None) -> Text:
    return Text("—" if value is None or value == "" else clean(value, newlines=False), style=style or "")


def _steps(steps: list[Any]) -> list[RenderableType]:
    from dunetrace_cli import registry

    lines: list[RenderableType] = []
    for step in steps:
        try:
            lines.append(Text(f"next: {registry.cli_line(step)}  ({step.reason})", style="dim"))
        except (KeyError, ValueError):
            continue
    return lines


def issue_list(result: Any, now: float) -> RenderableType:
    scope = f"agent {clean(result.agent_id, newlines=False)}" if result.agent_id else "every agent"
    if not result.issues:
        what = "" if result.status == "all" else f"{result.status} "
        return Group(Text(f"No {what}issues for {scope}."), *notes(result.notes))
    tbl = FitTable(
        [Col("id", "ID", "right"), Col("status", "STATUS"), Col("agent", "AGENT", min_width=10),
         Col("type", "FAILURE TYPE", min_width=12), Col("runs", "RUNS", "right"),
         Col("clean", "CLEAN RUNS SINCE", "right", compact_header="CLEAN"),
         Col("first", "FIRST SEEN (UTC)", compact_header="FIRST"), Col("last", "LAST SEEN (UTC)", compact_header="LAST")],
        plan=[("compact", "first"), ("compact", "last"), ("compact", "clean"), ("drop", "first"),
              ("shrink", "agent type")],
    )
    for i in result.issues:
        tbl.add_row(
            t(i.id), t(i.status, STATUS_STYLE.get(i.status)), t(i.agent_id, "bold"), t(i.failure_type),
            t(i.affected_runs), t(i.clean_runs_since),
            (t(timefmt.short(i.first_seen, now)), t(timefmt.ago(i.first_seen, now))),
            (t(timefmt.short(i.last_seen, now)), t(timefmt.ago(i.last_seen, now))),
        )
    more = result.total - len(result.issues)
    foot = f"{len(result.issues)} of {result.total} issue(s) ({result.status}) for {scope}"
    if more > 0:
        foot += f"; {more} more (raise --limit)"
    return Group(tbl, Text(foot + ".", style="dim"), *notes(result.notes), *_steps(getattr(result, "next_steps", [])))


def issue_detail(result: Any, now: float) -> RenderableType:
    head = heading(f"Issue #{result.id}: {clean(result.failure_type, newlines=False)}", f"agent {clean(result.agent_id, newlines=False)}")
    status = Text("status ")
    status.append(result.status or "?", style=STATUS_STYLE.get(result.status, ""))
    status.append(
        f"  · {result.affected_runs_count} affected run(s) · {result.clean_runs_since} clean run(s) since"
        f" · first {timefmt.both(result.first_seen, now)} · last {timefmt.both(result.last_seen, now)}",
        style="dim",
    )
    parts: list[RenderableType] = [head, status]
    if result.resolved_at is not None:
        how = "manually" if result.manually_resolved else "automatically (5 clean runs)"
        parts.append(Text(f"resolved {how} {timefmt.both(result.resolved_at, now)}", style="green"))
    if result.resolution_notes:
        parts.append(Text("notes: " + clean(result.resolution_notes)))
    if result.root_cause:
        parts += [Text("Root cause", style="bold"), Text(clean(result.root_cause))]
    if result.suggested_fix:
        parts += [Text("Suggested fix", style="bold"), Text(clean(result.suggested_fix))]
    if result.affected_runs:
        tbl = FitTable(
            [Col("run", "RUN", min_width=12), Col("step", "STEP", "right"), Col("conf", "CONF", "right"),
             Col("detected", "DETECTED (UTC)", compact_header="DETECTED")],
            plan=[("compact", "detected"), ("shrink", "run")], title="Affected runs (highest confidence first)",
        )
        for r in result.affected_runs:
            tbl.add_row(t(r.run_id), t(r.step_index), t(pct(r.confidence)),
                        (t(timefmt.short(r.detected_at, now)), t(timefmt.ago(r.detected_at, now))))
        parts.append(tbl)
    return Group(*parts, *notes(result.notes), *_steps(getattr(result, "next_steps", [])))


def pattern_detail(result: Any, now: float) -> RenderableType:
    o = result.overview
    head = heading(
        f"{clean(result.failure_type, newlines=False)} on {clean(result.agent_id, newlines=False)}",
        f"{o.affected_runs} of {o.total_runs} runs ({pct(o.rate, 1)}) · avg confidence {pct(o.avg_confidence)}",
    )
    sevs = " ".join(f"{k} {v}" for k, v in o.severity_breakdown.items() if v) or "none"
    sd = result.step_distribution
    parts: list[RenderableType] = [
        head,
        Text(f"first {timefmt.both(o.first_seen, now)} · last {timefmt.both(o.last_seen, now)} · severities: {sevs}", style="dim"),
        Text(f"fires at step p25 {sd.p25 if sd.p25 is not None else '—'} · p50 {sd.p50 if sd.p50 is not None else '—'}"
             f" · p75 {sd.p75 if sd.p75 is not None else '—'} · avg {sd.avg_step if sd.avg_step is not None else '—'}"),
    ]
    if result.daily_trend:
        days = result.daily_trend
        parts.append(Text(f"14 days {sparkline(d.affected_runs for d in days)}  ({days[0].day} … {days[-1].day})"))
    if result.evidence_aggregates:
        tbl = table("EVIDENCE (averaged)", ">SIGNALS", title="Evidence aggregates")
        for row in result.evidence_aggregates:
            fields = {k: v for k, v in row.items() if k != "sample_count"}
            tbl.add_row(t(", ".join(f"{k}={v}" for k, v in fields.items())), t(row.get("sample_count")))
        parts.append(tbl)
    if result.co_occurring:
        tbl = table("!CO-OCCURRING TYPE", ">RUNS", ">OF AFFECTED")
        for c in result.co_occurring:
            tbl.add_row(t(c.failure_type), t(c.co_count), t(pct(c.co_rate)))
        parts.append(tbl)
    if result.top_runs:
        top = FitTable(
            [Col("run", "RUN", min_width=12), Col("sev", "SEVERITY"), Col("step", "STEP", "right"),
             Col("conf", "CONF", "right"), Col("detected", "DETECTED (UTC)", compact_header="DETECTED")],
            plan=[("compact", "detected"), ("shrink", "run")], title="Top runs",
        )
        for r in result.top_runs:
            top.add_row(t(r.run_id), sev(r.severity), t(r.step_index), t(pct(r.confidence)),
                        (t(timefmt.short(r.detected_at, now)), t(timefmt.ago(r.detected_at, now))))
        parts.append(top)
    if not o.affected_runs:
        parts.append(Text("No signals of this type for this agent.", style="dim"))
    return Group(*parts, *_steps(getattr(result, "next_steps", [])))


def fix_list(result: Any, now: float) -> RenderableType:
    if not result.fixes:
        return Group(Text(f"No fixes applied for {clean(result.agent_id, newlines=False)} yet."), *notes(result.notes))
    tbl = FitTable(
        [Col("id", "ID", "right"), Col("signal", "SIGNAL", "right"), Col("type", "FAILURE TYPE", min_width=12),
         Col("fix", "FIX", min_width=6), Col("via", "VIA"), Col("applied", "APPLIED (UTC)", compact_header="APPLIED"),
         Col("after", "RUNS AFTER", "right", compact_header="AFTER"), Col("rec", "RECURRED", "right", compact_header="REC"),
         Col("verdict", "VERDICT")],
        plan=[("compact", "applied"), ("compact", "after"), ("compact", "rec"), ("drop", "via"), ("shrink", "fix type")],
    )
    for f in result.fixes:
        tbl.add_row(
            t(f.id), t(f.signal_id), t(f.failure_type), t(f.fix_type), t(f.applied_via),
            (t(timefmt.short(f.applied_at, now)), t(timefmt.ago(f.applied_at, now))), t(f.runs_after),
            t(f.recurrences_after), t(f.verdict, VERDICT_STYLE.get(f.verdict)),
        )
    return Group(tbl, *notes(result.notes))


def fix_status_line(status: Any, now: float) -> Text:
    """One line for the signal view (and ``get_fix_status``'s table)."""
    if not status.fix_applied:
        return Text("fix: none applied yet", style="dim")
    line = Text("fix: applied ")
    line.append(f"{timefmt.both(status.applied_at, now)} via {clean(status.applied_via or '?', newlines=False)}")
    line.append(f" · {status.runs_after_fix or 0} run(s) after, {status.recurrences_after_fix or 0} recurrence(s) · ")
    line.append(status.verdict or "?", style=VERDICT_STYLE.get(status.verdict or "", ""))
    return line


def fix_status(result: Any, now: float) -> RenderableType:
    return Group(heading(f"Signal #{result.signal_id}"), fix_status_line(result, now))


def call_list(result: Any, now: float) -> RenderableType:
    if not result.calls:
        return Group(Text("No voice calls match."), *notes(result.notes))
    tbl = FitTable(
        [Col("id", "ID", "right"), Col("agent", "AGENT", min_width=10), Col("last", "LAST RUN (UTC)", compact_header="LAST RUN"),
         Col("duration", "DURATION", "right"), Col("ended", "ENDED"), Col("silence", "SILENCE", "right"),
         Col("signals", "VOICE SIGNALS", "right", compact_header="SIGNALS"), Col("cost", "COST", "right")],
        plan=[("compact", "last"), ("compact", "signals"), ("shrink", "agent")],
    )
    for c in result.calls:
        tbl.add_row(
            t(c.id), t(c.agent_id, "bold"), (t(timefmt.short(c.last_run_at, now)), t(timefmt.ago(c.last_run_at, now))),
            t(timefmt.duration(c.duration_seconds)),
            t(c.completion_status, "red" if c.completion_status == "dropped" else None), t(pct(c.silence_pct)),
            t(c.voice_signal_count), t(f"${c.cost_usd:,.3f}"),
        )
    return Group(tbl, Text(f"{len(result.calls)} of {result.total} call(s).", style="dim"), *notes(result.notes))


def call_detail(result: Any, now: float) -> RenderableType:
    c = result
    parts: list[RenderableType] = [
        heading(f"Call #{c.id}", f"agent {clean(c.agent_id, newlines=False)} · external id {clean(c.external_id, newlines=False)}"),
        Text(f"{timefmt.duration(c.duration_seconds)} · ended {c.completion_status or '?'} · {c.run_count} run(s) · "
             f"silence {pct(c.silence_pct)} · agent talk {c.agent_talk_ms} ms / caller {c.caller_talk_ms} ms · "
             f"cost ${c.cost_usd:,.3f}"),
    ]
    if c.cost_breakdown:
        parts.append(Text("cost by stage: " + ", ".join(f"{clean(k, newlines=False)} ${v:,.3f}" for k, v in c.cost_breakdown.items())))
    if c.voice_signals:
        parts.append(Text("voice signals: " + ", ".join(clean(s, newlines=False) for s in c.voice_signals), style="yellow"))
    for rec in c.recordings:
        parts.append(Text("recording: " + clean(json.dumps(rec, ensure_ascii=False), newlines=False), style="dim"))
    return Group(*parts)


def policy_list(result: Any, now: float) -> RenderableType:
    if not result.policies:
        return Group(Text("No policies" + (f" for {clean(result.agent_id, newlines=False)}" if result.agent_id else "") + "."), *notes(result.notes))
    tbl = FitTable(
        [Col("id", "ID", "right"), Col("name", "NAME", min_width=8), Col("agent", "AGENT", min_width=6), Col("on", "ON"),
         Col("prio", "PRIO", "right"), Col("condition", "CONDITION", min_width=12), Col("action", "ACTION", min_width=8)],
        plan=[("drop", "prio"), ("shrink", "condition"), ("shrink", "action"), ("shrink", "name agent")],
    )
    for p in result.policies:
        tbl.add_row(
            t(p.id), t(p.name, "bold"), t(p.agent_id), t("on" if p.enabled else "off", "green" if p.enabled else "dim"),
            t(p.priority), t(json.dumps(p.condition, ensure_ascii=False)), t(json.dumps(p.action, ensure_ascii=False)),
        )
    return Group(tbl, *notes(result.notes))


def detector_list(result: Any, now: float) -> RenderableType:
    if not result.detectors:
        return Group(Text("No custom detectors" + (f" for {clean(result.agent_id, newlines=False)}" if result.agent_id else "") + "."), *notes(result.notes))
    tbl = FitTable(
        [Col("id", "ID", "right"), Col("name", "NAME", min_width=10), Col("agent", "AGENT", min_width=6),
         Col("status", "STATUS"), Col("runs", "RUNS", "right"), Col("fires", "SHADOW FIRES", "right", compact_header="FIRES"),
         Col("description", "DESCRIPTION", min_width=10)],
        plan=[("compact", "fires"), ("shrink", "description"), ("shrink", "name agent")],
    )
    for d in result.detectors:
        style = {"active": "green", "shadow": "yellow", "paused": "dim"}.get(d.status)
        tbl.add_row(t(d.id), t(d.name, "bold"), t(d.agent_id), t(d.status, style), t(d.total_runs), t(d.shadow_fire_count), t(d.description))
    return Group(tbl, *notes(result.notes))


def write_result(result: Any, now: float) -> RenderableType:
    line = Text(clean(result.message), style="green" if result.changed else "yellow")
    return Group(line, *notes(result.notes))
