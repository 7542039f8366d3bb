"""The detector reference resource (``dunetrace://detectors``) as Markdown. Our own text, not agent data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _one_line(value: Any, limit: int) -> str:
    flat = " ".join(str(value or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def render_detector_reference(detectors: Iterable[Any]) -> str:
    """One entry per failure type: what it catches, default severity, what it needs, the typical fix."""
    items = list(detectors)
    lines = [
        "# Dunetrace detector reference",
        "",
        f"{len(items)} built-in failure types (SDK class defaults; a backend may tune thresholds and severities). "
        "failure_type is an open set: custom, VOICE_* and semantic types may also appear.",
    ]
    category = None
    for info in sorted(items, key=lambda d: (getattr(d, "category", ""), d.failure_type)):
        if getattr(info, "category", None) != category:
            category = getattr(info, "category", None)
            lines += ["", f"## {category or 'other'}"]
        lines += [
            "",
            f"### {info.failure_type} — default severity {info.default_severity}",
            f"- Catches: {_one_line(info.catches, 600)}",
        ]
        needs = getattr(info, "needs", "")
        if needs:
            lines.append(f"- Needs: {_one_line(needs, 300)}")
        lines.append(f"- Typical fix: {_one_line(info.typical_fix, 600)}")
    return "\n".join(lines) + "\n"
