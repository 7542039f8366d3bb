"""The one-shot diagnosis of an agent (`dunetrace summary`, MCP summarize_agent)."""

from __future__ import annotations

from pydantic import Field

from dunetrace_cli.models.agents import AgentSummary
from dunetrace_cli.models.common import NextStep, ResultModel
from dunetrace_cli.models.health import HealthScore
from dunetrace_cli.models.insights import CostStats, DeployRegression
from dunetrace_cli.models.signals import Signal, SuggestedFix


class FailureBreakdown(ResultModel):
    failure_type: str
    signals: int
    runs_affected: int
    pct_of_runs: float  # runs_affected / processed runs, 0-100
    is_systemic: bool  # as `patterns` decides it: domain/systemic.py over the last 7 days
    worst_severity: str


class SignalDigest(ResultModel):
    signal: Signal
    first_fix: SuggestedFix | None = None


class AgentDiagnosis(ResultModel):
    agent: AgentSummary
    health: HealthScore
    runs_total: int  # processed runs
    failing_runs: int
    clean_runs: int
    breakdown: list[FailureBreakdown]
    newest_signals: list[SignalDigest]
    next_steps: list[NextStep] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    systemic_window_days: int = 7  # the window is_systemic is judged over (domain/systemic.py)
    systemic_window_runs: int | None = None  # processed runs in that window (None: the server did not say)
    deploy_regressions: list[DeployRegression] = Field(default_factory=list)  # deploys that raised the rate (insights)
    cost_stats: CostStats | None = None  # 30-day cost and spend on failing runs (insights; None on older servers)
