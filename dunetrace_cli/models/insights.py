"""GET /v1/agents/{id}/insights, and the patterns view the CLI and MCP show."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, computed_field

from dunetrace_cli.models.common import ApiModel, Bool0, DictOrEmpty, Epoch, Int0, ListOrEmpty, ResultModel, Str0, iso


class InputPattern(ApiModel):
    input_hash: Str0 = ""
    failure_type: Str0 = ""
    triggered_count: Int0 = 0
    total_runs: Int0 = 0
    rate: float = 0.0


class SignalTrend(ApiModel):
    failure_type: Str0 = ""
    agent_version: Str0 = ""
    day: Str0 = ""
    count: Int0 = 0


class VersionStat(ApiModel):
    agent_version: Str0 = ""
    run_count: Int0 = 0
    runs_with_signals: Int0 = 0
    signal_count: Int0 = 0
    signal_rate: float = 0.0
    first_seen: Epoch = None
    last_seen: Epoch = None


class TimeToToolDay(ApiModel):
    day: Str0 = ""
    run_count: Int0 = 0
    runs_with_tool: Int0 = 0
    avg_first_tool_step: float | None = None


class TimeToTool(ApiModel):
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    avg_steps: float | None = None
    runs_with_tool: Int0 = 0
    total_runs: Int0 = 0
    daily_trend: Annotated[list[TimeToToolDay], ListOrEmpty] = Field(default_factory=list)


class HourlyPattern(ApiModel):
    hour_of_day: Int0 = 0
    run_count: Int0 = 0
    signal_count: Int0 = 0
    signal_rate: float = 0.0


class FailureRate(ApiModel):
    failure_type: Str0 = ""
    day: Str0 = ""
    total_runs: Int0 = 0
    affected_runs: Int0 = 0
    rate: float = 0.0


class SystemicPattern(ApiModel):
    failure_type: Str0 = ""
    total_runs: Int0 = 0
    affected_runs: Int0 = 0
    rate: float = 0.0
    first_seen: Epoch = None
    last_seen: Epoch = None
    is_systemic: Bool0 = False


class CostByType(ApiModel):
    failure_type: Str0 = ""
    wasted_usd: float = 0.0
    affected_runs: Int0 = 0


class CostStats(ApiModel):
    total_cost_usd: float = 0.0
    wasted_cost_usd: float = 0.0
    wasted_pct: float = 0.0
    cost_by_failure_type: Annotated[list[CostByType], ListOrEmpty] = Field(default_factory=list)


class DeployEvent(ApiModel):
    id: Int0 = 0
    version: Str0 = ""
    deployed_at: Epoch = None
    meta: Annotated[dict[str, Any], DictOrEmpty] = Field(default_factory=dict)


class DeployRegression(ApiModel):
    """Signal rate in the 2 h before vs after a deploy (deploys of the last 7 days, >= 3 runs each side)."""

    deploy_id: Int0 = 0
    version: Str0 = ""
    deployed_at: Epoch = None
    before_runs: Int0 = 0
    before_signals: Int0 = 0
    before_rate: float = 0.0
    after_runs: Int0 = 0
    after_signals: Int0 = 0
    after_rate: float = 0.0
    delta_rate: float = 0.0
    is_regression: Bool0 = False  # after - before > 0.15


class UserImpact(ApiModel):
    failure_type: Str0 = ""
    affected_users: Int0 = 0
    total_users: Int0 = 0
    user_impact_rate: float = 0.0


class AgentInsights(ApiModel):
    input_patterns: Annotated[list[InputPattern], ListOrEmpty] = Field(default_factory=list)
    signal_trends: Annotated[list[SignalTrend], ListOrEmpty] = Field(default_factory=list)
    versions: Annotated[list[VersionStat], ListOrEmpty] = Field(default_factory=list)
    time_to_tool: TimeToTool | None = None
    hourly_pattern: Annotated[list[HourlyPattern], ListOrEmpty] = Field(default_factory=list)
    # newer servers only
    failure_rates: list[FailureRate] | None = None
    systemic_patterns: list[SystemicPattern] | None = None
    # raw rows (domain/gate.py reads them as dicts); the Patterns view parses them into the models below
    deploy_events: Annotated[list[dict[str, Any]], ListOrEmpty] = Field(default_factory=list)
    cost_stats: CostStats | None = None
    deploy_regressions: Annotated[list[dict[str, Any]], ListOrEmpty] = Field(default_factory=list)
    user_impact: Annotated[list[dict[str, Any]], ListOrEmpty] = Field(default_factory=list)


class DayPoint(ResultModel):
    day: str  # YYYY-MM-DD (UTC)
    affected_runs: int
    total_runs: int
    rate: float


class PatternRow(ResultModel):
    failure_type: str
    total_runs: int
    affected_runs: int
    rate: float  # affected / total over the window
    is_systemic: bool  # rate >= 0.10, the server's threshold
    first_seen: float | None = None
    last_seen: float | None = None
    worst_day: str | None = None
    worst_day_rate: float | None = None
    trend: list[DayPoint] = Field(default_factory=list)  # zero-filled, oldest first

    @computed_field  # type: ignore[prop-decorator]
    @property
    def last_seen_iso(self) -> str | None:
        return iso(self.last_seen)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kind(self) -> str:
        """systemic / one-off, or "no runs" when the window holds no runs (an idle agent)."""
        if self.is_systemic:
            return "systemic"
        return "no runs" if self.total_runs == 0 else "one-off"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def daily_counts(self) -> list[int]:
        """Affected runs per day over the last 7 days (domain/trend.py), oldest first."""
        from dunetrace_cli.domain.trend import TREND_DAYS

        return [p.affected_runs for p in self.trend[-TREND_DAYS:]]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def trend_verdict(self) -> str:
        """escalating / stable / improving, by the rule in domain/trend.py."""
        from dunetrace_cli.domain.trend import verdict

        return verdict(self.daily_counts)


class Patterns(ResultModel):
    agent_id: str
    source: Literal["server", "client"]  # who decided is_systemic
    window_days: int  # systemic window (7)
    trend_days: int  # daily trend window
    days: list[str]  # the trend's days, oldest first
    total_runs: int | None  # runs in the systemic window; None when the server does not say (no failures)
    patterns: list[PatternRow]  # systemic first, then by affected runs
    hot_inputs: list[InputPattern]  # input hashes with rate >= 50%
    versions: list[VersionStat]
    notes: list[str] = Field(default_factory=list)
    # what the insights route returns besides the patterns (empty/None where the server has none)
    deploy_regressions: list[DeployRegression] = Field(default_factory=list)  # regressions first, newest first
    deploy_events: list[DeployEvent] = Field(default_factory=list)
    cost_stats: CostStats | None = None
    user_impact: list[UserImpact] = Field(default_factory=list)
    time_to_tool: TimeToTool | None = None
    hourly_pattern: list[HourlyPattern] = Field(default_factory=list)
    failure_rates: list[FailureRate] = Field(default_factory=list)  # the server's per-day rows (the trend's source)
