"""Compact Markdown for the MCP tools' text content, one module per result, rendered from the views.

Each ``render_*`` takes the full query result (the registry's ``markdown`` hook:
``(result, *, now, **markdown_kw) -> str``), builds the tool's compact view
(:mod:`dunetrace_cli.mcp.views`, the same object that becomes ``structuredContent``) and renders it,
so the text and the structured content say the same facts. ``_format`` keeps the generic helpers
(``cell``, ``code``, ``fence``, ``fit``, ``when`` ...) that other areas' Markdown renderers import from here.
"""

from dunetrace_cli.render.markdown._common import MAX_CHARS, UNTRUSTED_LABEL, clamp
from dunetrace_cli.render.markdown._format import (
    cell,
    code,
    conf,
    fence,
    fit,
    num,
    one_line,
    pct,
    sev,
    short_run,
    usd,
    when,
)
from dunetrace_cli.render.markdown.agents import render_agent_list
from dunetrace_cli.render.markdown.compare import render_comparison
from dunetrace_cli.render.markdown.detectors import render_detector_reference
from dunetrace_cli.render.markdown.guide import render_guide
from dunetrace_cli.render.markdown.health import render_health
from dunetrace_cli.render.markdown.patterns import render_patterns
from dunetrace_cli.render.markdown.run import render_run_view
from dunetrace_cli.render.markdown.runs import render_run_list
from dunetrace_cli.render.markdown.signal import render_signal_view
from dunetrace_cli.render.markdown.signals import render_signal_search
from dunetrace_cli.render.markdown.summary import render_diagnosis
from dunetrace_cli.render.markdown.tokens import render_token_stats

__all__ = [
    "MAX_CHARS", "UNTRUSTED_LABEL", "cell", "clamp", "code", "conf", "fence", "fit", "num", "one_line", "pct",
    "sev", "short_run", "usd", "when", "render_agent_list", "render_comparison",
    "render_detector_reference", "render_diagnosis", "render_guide", "render_health", "render_patterns",
    "render_run_list", "render_run_view", "render_signal_search", "render_signal_view", "render_token_stats",
]
