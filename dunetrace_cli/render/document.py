"""Documents as plain text: what `dunetrace guide FRAMEWORK` prints when stdout is not a terminal.

A guide is Markdown that ships with the package; piped or redirected (``dunetrace guide python >
python.md``) it is written as that Markdown, which reads as plain text and imports neither rich's
Markdown renderer nor pygments. On a terminal the table renderer draws it (render/tables/guide.py).
"""

from __future__ import annotations

from typing import Any


def guide_text(result: Any) -> str:
    """An instrumentation guide (``queries.guides.Guide``): its Markdown, ending with one newline."""
    markdown: str = result.markdown
    return markdown if markdown.endswith("\n") else markdown + "\n"
