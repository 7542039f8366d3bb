"""Instrumentation guides shipped with the package, one Markdown file per framework.

The files sit next to this module (``python.md``, ``langchain.md``, ...) and are
read with :mod:`importlib.resources`, so they work from a wheel, a zip or a
source checkout alike. Names given by users are resolved case-insensitively,
through a table of aliases, to one of :data:`FRAMEWORKS`.
"""

from __future__ import annotations

import difflib
import re
from importlib import resources

from dunetrace_cli.errors import UsageError

#: Canonical guide names; each has a ``<name>.md`` file in this package.
FRAMEWORKS: tuple[str, ...] = (
    "python",
    "langchain",
    "typescript",
    "tools",
    "otel",
    "haystack",
    "crewai",
    "openai-agents",
    "policies",
    "voice",
)

#: Other names people use for the same thing -> canonical guide name.
ALIASES: dict[str, str] = {
    "py": "python",
    "sdk": "python",
    "python-sdk": "python",
    "custom": "python",
    "langgraph": "langchain",
    "lc": "langchain",
    "ts": "typescript",
    "js": "typescript",
    "node": "typescript",
    "nodejs": "typescript",
    "javascript": "typescript",
    "tool": "tools",
    "tool-calls": "tools",
    "tools-api": "tools",
    "tracking": "tools",
    "http": "tools",
    # Dify runs its tools on its own servers: wrap the API call (tools guide, "Hosted agents").
    "dify": "tools",
    "otlp": "otel",
    "opentelemetry": "otel",
    "traceloop": "otel",
    "openllmetry": "otel",
    "openlit": "otel",
    # Langdock emits OTLP itself and is pointed at /v1/otlp/traces (otel guide, route B).
    "langdock": "otel",
    "haystack-ai": "haystack",
    "crew": "crewai",
    "agents-sdk": "openai-agents",
    "openai-agents-sdk": "openai-agents",
    "policy": "policies",
    "guardrails": "policies",
    "approvals": "policies",
    "vapi": "voice",
    # the rest of upstream dunetrace-mcp 0.4.7's aliases (get_instrumentation_guide's docstring)
    "custom-python": "python",
    "lc-graph": "langchain",  # also lc_graph / "lc graph": separators count as hyphens
    "hs": "haystack",
    "voice-agent": "voice",
    "stt": "voice",
    "tts": "voice",
    "speech": "voice",
    "no-code": "tools",  # upstream groups it with dify and langdock: hosted agents wrap the API call
}

#: Upstream's resource URIs (``dunetrace://docs/<name>``) -> the guide that covers the same ground.
#: ``detectors`` and ``mcp-server`` are not guides: the MCP server serves the detector reference and
#: its own tool list for them.
DOC_URIS: dict[str, str] = {
    "integrate-python": "python",
    "integrate-langchain": "langchain",
    "integrate-typescript": "typescript",
    "policies": "policies",
    "integrate-haystack": "haystack",
    "integrate-langdock": "otel",
}

_SEPARATORS = re.compile(r"[\s_]+")


def _normalise(name: str) -> str:
    return _SEPARATORS.sub("-", name.strip().lower())


def resolve_framework(name: str) -> str:
    """Return the canonical guide name for ``name`` (case-insensitive, trimmed).

    Spaces and underscores count as hyphens, so ``"OpenAI_Agents"`` resolves to
    ``"openai-agents"``. An unknown name raises :class:`UsageError` listing the
    valid names and aliases, with a suggestion when one is close.
    """
    if not isinstance(name, str):
        raise UsageError(f"framework must be a string, not {type(name).__name__}")
    key = _normalise(name)
    if key in FRAMEWORKS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    shown = name.strip()
    message = (
        f"unknown framework {shown!r}. Valid: {', '.join(FRAMEWORKS)}; "
        f"aliases: {', '.join(sorted(ALIASES))}."
    )
    if key:
        close = difflib.get_close_matches(key, [*FRAMEWORKS, *ALIASES], n=1, cutoff=0.7)
        if close:
            target = ALIASES.get(close[0], close[0])
            message += f" Did you mean {target!r}?"
    raise UsageError(message)


def load_guide(name: str) -> str:
    """Return the Markdown text of the guide for ``name`` (any accepted spelling)."""
    framework = resolve_framework(name)
    return resources.files(__name__).joinpath(f"{framework}.md").read_text(encoding="utf-8")


__all__ = ["ALIASES", "DOC_URIS", "FRAMEWORKS", "load_guide", "resolve_framework"]
