"""Formatting helpers shared by the Markdown renderers of other areas (issues, check, ...).

Each untrusted value passes :func:`one_line` (``render/sanitize.clean``: control, escape and bidi characters
made visible) before it is cut and placed in a cell, inline code or a fence. The MCP tool texts of
``render/markdown/<result>.py`` render the compact views with :mod:`._common` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dunetrace_cli.models.common import iso
from dunetrace_cli.render.markdown._common import MAX_CHARS, SEVERITY_MARK, clamp
from dunetrace_cli.render.markdown._common import code as inline_code
from dunetrace_cli.render.markdown._common import fence as fenced
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.timefmt import ago

RUN_PREFIX = 12


def when(ts: float | None, now: float) -> str:
    """``2026-11-24T11:49:28Z (15m ago)``, or ``—``."""
    stamp = iso(ts)
    if stamp is None:
        return "—"
    return f"{stamp} ({ago(ts, now)})"


def sev(severity: str | None) -> str:
    name = (severity or "").upper()
    mark = SEVERITY_MARK.get(name, "⚪")
    return f"{mark} {name or '?'}"


def pct(value: float | None, *, fraction: bool = True, digits: int = 0) -> str:
    """A percentage; ``fraction`` means ``value`` is 0-1."""
    if value is None:
        return "—"
    number = value * 100 if fraction else value
    return f"{number:.{digits}f}%"


def num(value: int | float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def usd(value: float | None) -> str:
    if value is None:
        return "—"
    if 0 < abs(value) < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


def conf(value: float | None) -> str:
    return "—" if value is None else f"{min(value, 1.0) * 100:.0f}%"


def short_run(run_id: str | None) -> str:
    return (run_id or "")[:RUN_PREFIX] or "?"


def one_line(text: Any, limit: int = 200) -> str:
    """Collapse whitespace; cut at ``limit`` characters with an ellipsis."""
    flat = " ".join(clean("" if text is None else text, newlines=False).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def cell(text: Any, limit: int = 80) -> str:
    """Safe inside a Markdown table cell."""
    return one_line(text, limit).replace("|", "\\|")


def code(text: Any, limit: int = 120) -> str:
    """Inline code that the content cannot break out of (untrusted values), flattened to one line first."""
    return inline_code(one_line(text, limit))


def fence(text: str, lang: str = "") -> str:
    """A fenced block the content cannot close early, sanitised first."""
    return fenced(clean(text, newlines=True), lang)


def fit(
    head: list[str],
    blocks: list[str],
    tail: list[str],
    *,
    more: Callable[[int], str],
    limit: int = MAX_CHARS,
) -> str:
    """Join ``head``, as many ``blocks`` as fit, a "N more" line when cut, and ``tail``."""
    head_text = "\n".join(head)
    tail_text = "\n".join(tail)
    budget = limit - len(head_text) - len(tail_text) - 300
    shown: list[str] = []
    used = 0
    for block in blocks:
        if used + len(block) + 1 > budget:
            break
        shown.append(block)
        used += len(block) + 1
    parts = [head_text] if head_text else []
    if shown:
        parts.append("\n".join(shown))
    cut = len(blocks) - len(shown)
    if cut:
        parts.append(more(cut))
    if tail_text:
        parts.append(tail_text)
    return clamp("\n".join(parts), limit)
