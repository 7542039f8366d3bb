"""Pydantic models mirroring the Customer API, and the results the query layer computes.

Names are imported on first use (PEP 562): ``dunetrace_cli.models.agents`` alone does not build
every model class (pydantic class creation is most of a command's import time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dunetrace_cli.lazy import lazy_exports

_HOMES = {
    "AgentDiagnosis": "summary", "AgentInsights": "insights", "AgentList": "agents", "AgentSummary": "agents",
    "ContextGrowth": "runs", "FailureBreakdown": "summary", "HealthComponent": "health",
    "HealthScore": "health", "InputPattern": "insights", "LlmCall": "runs", "Page": "common",
    "PatternRow": "insights", "Patterns": "insights", "RunComparison": "runs", "RunDetail": "runs",
    "RunEvent": "runs", "RunList": "runs", "RunSignal": "signals", "RunSummary": "runs", "RunView": "runs",
    "SEVERITIES": "common", "Signal": "signals", "SignalDigest": "summary", "SignalSearch": "signals",
    "SignalView": "signals", "SuggestedFix": "signals", "SystemicPattern": "insights", "TokenStats": "tokens",
    "TokenWindow": "tokens", "ToolCall": "runs", "WasteByType": "tokens", "iso": "common",
}

__all__ = [
    "AgentDiagnosis", "AgentInsights", "AgentList", "AgentSummary", "ContextGrowth", "FailureBreakdown",
    "HealthComponent", "HealthScore", "InputPattern", "LlmCall", "Page", "PatternRow", "Patterns",
    "RunComparison", "RunDetail", "RunEvent", "RunList", "RunSignal", "RunSummary", "RunView", "SEVERITIES",
    "Signal", "SignalDigest", "SignalSearch", "SignalView", "SuggestedFix", "SystemicPattern", "TokenStats",
    "TokenWindow", "ToolCall", "WasteByType", "iso",
]


__getattr__ = lazy_exports(__name__, _HOMES, globals())


if TYPE_CHECKING:
    from dunetrace_cli.models.agents import AgentList, AgentSummary
    from dunetrace_cli.models.common import SEVERITIES, Page, iso
    from dunetrace_cli.models.health import HealthComponent, HealthScore
    from dunetrace_cli.models.insights import AgentInsights, InputPattern, PatternRow, Patterns, SystemicPattern
    from dunetrace_cli.models.runs import (
        ContextGrowth,
        LlmCall,
        RunComparison,
        RunDetail,
        RunEvent,
        RunList,
        RunSummary,
        RunView,
        ToolCall,
    )
    from dunetrace_cli.models.signals import RunSignal, Signal, SignalSearch, SignalView, SuggestedFix
    from dunetrace_cli.models.summary import AgentDiagnosis, FailureBreakdown, SignalDigest
    from dunetrace_cli.models.tokens import TokenStats, TokenWindow, WasteByType
