"""Pydantic models mirroring the Customer API, and the results the query layer computes."""

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

__all__ = [
    "SEVERITIES", "AgentDiagnosis", "AgentInsights", "AgentList", "AgentSummary", "ContextGrowth",
    "FailureBreakdown", "HealthComponent", "HealthScore", "InputPattern", "LlmCall", "Page", "PatternRow",
    "Patterns", "RunComparison", "RunDetail", "RunEvent", "RunList", "RunSignal", "RunSummary", "RunView",
    "Signal", "SignalDigest", "SignalSearch", "SignalView", "SuggestedFix", "SystemicPattern", "TokenStats",
    "TokenWindow", "ToolCall", "WasteByType", "iso",
]
