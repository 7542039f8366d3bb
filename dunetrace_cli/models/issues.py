"""Issues (GET /v1/agents/{id}/issues, /v1/issues/search, /v1/issues/{id}) and the failure-pattern detail."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, computed_field

from dunetrace_cli.models.common import ApiModel, Bool0, DictOrEmpty, Epoch, Int0, ListOrEmpty, ResultModel, Str0, iso

ISSUE_STATUSES = ("open", "resolved", "reopened")


class Issue(ApiModel):
    id: int
    agent_id: Str0 = ""
    failure_type: Str0 = ""
    status: Str0 = ""  # open | resolved | reopened
    first_seen: Epoch = None
    last_seen: Epoch = None
    resolved_at: Epoch = None
    affected_runs: Int0 = 0
    clean_runs_since: Int0 = 0
    resolution_notes: str | None = None
    manually_resolved: Bool0 = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def last_seen_iso(self) -> str | None:
        return iso(self.last_seen)


class IssueList(ResultModel):
    """Issues of one agent (``agent_id`` set) or across every agent (a search)."""

    agent_id: str | None = None
    status: str  # open | resolved | reopened | all
    query: str | None = None
    failure_type: str | None = None
    issues: list[Issue]
    total: int  # matching issues on the server
    limit: int | None = None
    offset: int = Field(default=0, exclude=True)  # MCP paging: issues skipped before ``issues``
    notes: list[str] = Field(default_factory=list)


class AffectedRun(ApiModel):
    run_id: str
    detected_at: Epoch = None
    step_index: int | None = None
    confidence: float | None = None


class IssueDetail(ApiModel):
    id: int
    agent_id: Str0 = ""
    failure_type: Str0 = ""
    status: Str0 = ""
    first_seen: Epoch = None
    last_seen: Epoch = None
    resolved_at: Epoch = None
    affected_runs_count: Int0 = 0
    clean_runs_since: Int0 = 0
    resolution_notes: str | None = None
    manually_resolved: Bool0 = False
    affected_runs: Annotated[list[AffectedRun], ListOrEmpty] = Field(default_factory=list)
    root_cause: str | None = None
    suggested_fix: str | None = None
    code_references: Annotated[list[dict[str, Any] | str], ListOrEmpty] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # ours: e.g. why root_cause is empty


class FailureOverview(ApiModel):
    affected_runs: Int0 = 0
    total_runs: Int0 = 0
    rate: float = 0.0
    avg_confidence: float = 0.0
    first_seen: Epoch = None
    last_seen: Epoch = None
    severity_breakdown: Annotated[dict[str, int], DictOrEmpty] = Field(default_factory=dict)


class StepDistribution(ApiModel):
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    avg_step: float | None = None


class PatternDay(ApiModel):
    day: Str0 = ""
    affected_runs: Int0 = 0
    total_runs: Int0 = 0
    rate: float = 0.0


class CoOccurring(ApiModel):
    failure_type: Str0 = ""
    co_count: Int0 = 0
    co_rate: float = 0.0


class TopRun(ApiModel):
    run_id: str
    confidence: float = 0.0
    severity: Str0 = ""
    step_index: Int0 = 0
    detected_at: Epoch = None
    evidence: Annotated[dict[str, Any], DictOrEmpty] = Field(default_factory=dict)


class FailurePatternDetail(ApiModel):
    """GET /v1/agents/{id}/failure-patterns/{type}, plus the agent it was asked for."""

    agent_id: Str0 = ""
    failure_type: Str0 = ""
    overview: FailureOverview = Field(default_factory=FailureOverview)
    step_distribution: StepDistribution = Field(default_factory=StepDistribution)
    evidence_aggregates: Annotated[list[dict[str, Any]], ListOrEmpty] = Field(default_factory=list)
    daily_trend: Annotated[list[PatternDay], ListOrEmpty] = Field(default_factory=list)
    co_occurring: Annotated[list[CoOccurring], ListOrEmpty] = Field(default_factory=list)
    top_runs: Annotated[list[TopRun], ListOrEmpty] = Field(default_factory=list)
