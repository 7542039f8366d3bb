"""get_instrumentation_guide: the guide's set-up part; the whole guide is the resource named in ``full_guide``."""

from __future__ import annotations

import re

from pydantic import BaseModel

from dunetrace_cli.mcp.views._base import Step, View, step, steps

_SECTION = re.compile(r"^## +(.+?)\s*$", re.MULTILINE)
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INTRO_CHARS = 160
CODE_CHARS = 800


class GuideView(View):
    """How to instrument an agent: the install command, a minimal example, the guide's sections."""

    framework: str
    title: str
    intro: str
    install: str | None = None  # shell commands
    example: str | None = None  # the minimal example's code (cut at 800 characters)
    sections: list[str]  # every section of the full guide
    full_guide: str  # resource URI with the whole guide (every section, in Markdown)
    next_steps: list[Step]


def _section(markdown: str, name: str) -> str | None:
    """The first code block under the section whose heading starts with ``name``."""
    for match in _SECTION.finditer(markdown):
        if match.group(1).lower().startswith(name):
            rest = markdown[match.end():]
            nxt = _SECTION.search(rest)
            body = rest[: nxt.start()] if nxt else rest
            code = _FENCE.search(body)
            if code:
                text = code.group(2).rstrip()
                return text if len(text) <= CODE_CHARS else text[: CODE_CHARS - 1] + "…"
    return None


def guide(result: BaseModel) -> GuideView:
    markdown = str(getattr(result, "markdown", ""))
    framework = str(getattr(result, "framework", ""))
    body = markdown.split("\n", 1)[1] if markdown.startswith("# ") else markdown
    intro = " ".join(body.strip().split("\n\n", 1)[0].split())
    if len(intro) > INTRO_CHARS:
        intro = intro[: INTRO_CHARS - 1] + "…"
    related = list(getattr(result, "related", []) or [])
    return GuideView(
        framework=framework, title=str(getattr(result, "title", framework)), intro=intro,
        install=_section(markdown, "install"), example=_section(markdown, "minimal") or _section(markdown, "example"),
        sections=[m.group(1) for m in _SECTION.finditer(markdown)],
        full_guide=f"dunetrace://guides/{framework}",
        next_steps=steps([step("guide", "related guide", framework=r) for r in related[:1]]),
    )
