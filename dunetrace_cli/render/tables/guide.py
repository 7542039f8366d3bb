"""`dunetrace guide FRAMEWORK`: our own packaged markdown, with code in the terminal's colours."""

from __future__ import annotations

from rich.console import RenderableType
from rich.markdown import Markdown

from dunetrace_cli.queries.guides import Guide
from dunetrace_cli.render.tables._base import syntax_theme


def render_markdown_doc(markdown: str) -> RenderableType:
    """Trusted markdown (guides) rendered as markdown; code blocks readable on light and dark themes."""
    return Markdown(markdown, code_theme=syntax_theme(), inline_code_theme=syntax_theme())


def render(result: Guide, now: float) -> RenderableType:
    return render_markdown_doc(result.markdown)
