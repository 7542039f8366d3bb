"""Rich renderings of every query result, for people at a terminal: one module per result.

``render(result, now)`` picks the module for the result's type; each module's own ``render`` is
the same function for that one result (``dunetrace_cli.render.tables.agents:render``). Layouts
fit the terminal width without breaking a word (``_fit.py``); every untrusted string goes through
``render/sanitize.py`` (``_base.t``).
"""

from __future__ import annotations

import importlib
from typing import Any

from rich.console import RenderableType

# the shared pieces, for renderers of other results (render/tables_issues.py)
from dunetrace_cli.render.tables._base import (  # noqa: F401
    SEVERITY_STYLE,
    bar,
    code,
    heading,
    notes,
    para,
    pct,
    score_text,
    sev,
    sparkline,
    t,
    table,
)
from dunetrace_cli.render.tables._fit import Col, FitTable  # noqa: F401

# result class name -> module holding its renderer
MODULES = {
    "AgentList": "agents",
    "HealthScore": "health",
    "AgentDiagnosis": "summary",
    "Patterns": "patterns",
    "RunList": "runs",
    "RunView": "run",
    "RunComparison": "compare",
    "SignalSearch": "signals",
    "SignalView": "signal",
    "TokenStats": "tokens",
    "Guide": "guide",
    "FailurePatternDetail": "pattern_detail",  # `patterns AGENT --type T`
}


def render(result: Any, now: float) -> RenderableType:
    """The rich rendering of any query result."""
    for cls in type(result).__mro__:
        module = MODULES.get(cls.__name__)
        if module is not None:
            return importlib.import_module(f"{__name__}.{module}").render(result, now)
    raise TypeError(f"no table renderer for {type(result).__name__}")


def render_markdown_doc(markdown: str) -> RenderableType:
    from dunetrace_cli.render.tables.guide import render_markdown_doc as doc

    return doc(markdown)


def render_guide(result: Any, now: float) -> RenderableType:
    """An instrumentation guide: its markdown, rendered."""
    return render(result, now)
