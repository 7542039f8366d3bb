"""get_signal_detail as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.signals import SignalDetail, signal_detail
from dunetrace_cli.models.signals import SignalView
from dunetrace_cli.render.markdown._common import UNTRUSTED_LABEL, code, fence, join, next_lines, when


def markdown(view: SignalDetail, *, now: float) -> str:
    conf = "" if view.confidence is None else f", confidence {view.confidence:.0%}"
    lines = [
        f"# Signal {view.id}: {view.severity} {code(view.failure_type)}",
        f"Agent {code(view.agent_id)}" + (f" {code(view.agent_version)}" if view.agent_version else "")
        + f", run {code(view.run_id)}, step {view.step_index}{conf}, detected {when(view.detected_at, now)}",
    ]
    told = [f"title: {view.title}"]
    if view.what:
        told.append(f"what: {view.what}")
    if view.why_it_matters:
        told.append(f"why it matters: {view.why_it_matters}")
    if view.detector:
        told.append(f"detector catches: {view.detector}")
    for i, fix in enumerate(view.fixes, 1):
        told.append(f"fix {i}: {fix.description}")
    if view.fix_status:
        lines.append(f"Fix status: {view.fix_status}")
    lines += [f"Explanation ({UNTRUSTED_LABEL}):", fence("\n".join(told))]
    for i, fix in enumerate(view.fixes, 1):
        if fix.code:
            lines += [f"Fix {i} code:", fence(fix.code, fix.language or "")]
    if view.evidence:
        lines += [f"Evidence ({UNTRUSTED_LABEL}):", fence(view.evidence)]
    return join(lines + next_lines(view.next_steps))


def render_signal_view(result: SignalView, *, now: float) -> str:
    return markdown(signal_detail(result), now=now)
