"""Instrumentation guides as a query: one framework name in, one :class:`Guide` out.

No network and no configuration: the guides ship inside the package
(``dunetrace_cli/guides/*.md``). The CLI renders ``markdown`` and the MCP server
returns it as text, both through :func:`get_guide`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from dunetrace_cli.guides import FRAMEWORKS, load_guide, resolve_framework

_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_RELATED = re.compile(r"^Related guides:\s*(.+)$", re.MULTILINE)
_NAME = re.compile(r"`([a-z0-9-]+)`")


@dataclass(frozen=True)
class Guide:
    """One instrumentation guide."""

    framework: str
    """Canonical guide name, one of ``dunetrace_cli.guides.FRAMEWORKS``."""
    requested: str
    """The name as the caller gave it (an alias resolves to ``framework``)."""
    title: str
    """The guide's first-level heading."""
    markdown: str
    """The full guide text."""
    related: list[str]
    """Other guide names worth reading next."""

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        """The result as data, like a pydantic model's (``--json``, MCP structuredContent).

        A plain dataclass, not a pydantic model: `dunetrace guide` works offline and starts without
        importing pydantic (its schema still comes from pydantic's TypeAdapter, in the MCP server).
        """
        return asdict(self)


def _title(markdown: str, framework: str) -> str:
    match = _TITLE.search(markdown)
    return match.group(1).strip() if match else framework


def _related(markdown: str, framework: str) -> list[str]:
    match = _RELATED.search(markdown)
    if not match:
        return []
    names: list[str] = []
    for name in _NAME.findall(match.group(1)):
        if name in FRAMEWORKS and name != framework and name not in names:
            names.append(name)
    return names


def get_guide(*, framework: str) -> Guide:
    """Return the guide for ``framework`` (a canonical name or an alias, any case).

    Raises :class:`dunetrace_cli.errors.UsageError` for an unknown name; the
    message lists the valid names.
    """
    canonical = resolve_framework(framework)
    markdown = load_guide(canonical)
    return Guide(
        framework=canonical,
        requested=framework.strip(),
        title=_title(markdown, canonical),
        markdown=markdown,
        related=_related(markdown, canonical),
    )


__all__ = ["Guide", "get_guide"]
