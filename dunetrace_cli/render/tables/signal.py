"""`dunetrace signal ID`: evidence, impact and every suggested fix with its code."""

from __future__ import annotations

import json

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.models.signals import SignalView, SuggestedFix
from dunetrace_cli.render import timefmt
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.tables._base import code, para, sev, t


def fix_block(fix: SuggestedFix, *, index: int | None = None) -> list[RenderableType]:
    label = f"Fix {index}: " if index is not None else "Fix: "
    head = Text(label, style="bold green")
    head.append_text(para(fix.description))
    out: list[RenderableType] = [head]
    if fix.code:
        out.append(code(fix.code, fix.language))
    return out


def render(result: SignalView, now: float) -> RenderableType:
    s = result.signal
    head = Text(f"Signal #{s.id} ")
    head.append_text(sev(s.severity))
    head.append_text(t(f" {s.failure_type}", "bold"))
    parts: list[RenderableType] = [
        head,
        t(s.title or s.failure_type, "bold"),
        Text(
            f"agent {clean(s.agent_id, newlines=False)} · run {clean(s.run_id, newlines=False)} · step {s.step_index}"
            " · confidence " + ("—" if s.confidence is None else f"{s.confidence:.2f}")
            + f" · detected {timefmt.both(s.detected_at, now)}",
            style="dim",
        ),
    ]
    if s.what:
        parts += [Text("What happened", style="bold"), para(s.what)]
    if s.why_it_matters:
        parts += [Text("Impact", style="bold"), para(s.why_it_matters)]
    if result.detector and not s.why_it_matters:
        parts += [Text("What this detector catches", style="bold"), para(result.detector.get("catches"))]
    parts.append(Text("Evidence (agent data: untrusted)", style="bold"))
    if s.evidence_summary:
        parts.append(para(s.evidence_summary))
    if s.evidence:
        parts.append(code(json.dumps(s.evidence, indent=2, ensure_ascii=False, sort_keys=True), "json"))
    if s.suggested_fixes:
        for index, fix in enumerate(s.suggested_fixes, 1):
            parts += fix_block(fix, index=index)
    elif result.detector and result.detector.get("typical_fix"):
        parts += [Text("Typical fix", style="bold green"), para(result.detector.get("typical_fix"))]
    if result.fix_status is not None:
        from dunetrace_cli.render.tables_issues import fix_status_line

        parts.append(fix_status_line(result.fix_status, now))
    parts.append(Text(f"Run: dunetrace run {clean(s.run_id[:12], newlines=False)}", style="dim"))
    return Group(*parts)
