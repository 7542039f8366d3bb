"""get_instrumentation_guide as Markdown."""

from __future__ import annotations

from pydantic import BaseModel

from dunetrace_cli.mcp.views.guide import GuideView, guide
from dunetrace_cli.render.markdown._common import fence, join, next_lines


def markdown(view: GuideView, *, now: float | None = None) -> str:
    lines = [f"# {view.title}", view.intro]
    if view.install:
        lines += ["Install:", fence(view.install, "bash")]
    if view.example:
        lines += ["Minimal example:", fence(view.example, "python")]
    lines.append(f"Full guide (sections: {'; '.join(view.sections)}): resource {view.full_guide}")
    return join(lines + next_lines(view.next_steps))


def render_guide(result: BaseModel, *, now: float | None = None) -> str:
    return markdown(guide(result), now=now)
