"""Runs: summaries (GET .../runs), details (GET /v1/runs/{id}) and what we derive from them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, computed_field

from dunetrace_cli.models.common import ApiModel, Bool0, DictOrEmpty, Epoch, Int0, ListOrEmpty, ResultModel, Str0, iso
from dunetrace_cli.models.signals import RunSignal


class RunSummary(ApiModel):
    run_id: str
    agent_id: Str0 = ""
    agent_version: Str0 = ""
    started_at: Epoch = None
    completed_at: Epoch = None
    exit_reason: str | None = None  # the detector trigger: run.completed / run.errored / stalled
    step_count: Int0 = 0
    total_tokens: int | None = None  # absent on March-2026 servers
    cost_usd: float | None = None
    signal_count: Int0 = 0
    has_signals: Bool0 = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def started_at_iso(self) -> str | None:
        return iso(self.started_at)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def completed_at_iso(self) -> str | None:
        return iso(self.completed_at)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return round(self.completed_at - self.started_at, 3)


class RunEvent(ApiModel):
    event_type: str
    step_index: Int0 = 0
    timestamp: Epoch = None
    payload: Annotated[dict[str, Any], DictOrEmpty] = Field(default_factory=dict)
    parent_run_id: str | None = None


class RunDetail(RunSummary):
    conversation_id: int | str | None = None
    events: Annotated[list[RunEvent], ListOrEmpty] = Field(default_factory=list)
    signals: Annotated[list[RunSignal], ListOrEmpty] = Field(default_factory=list)


class RunList(ResultModel):
    agent_id: str
    filter: Literal["all", "failing", "clean"] = "all"
    runs: list[RunSummary]
    total: int  # runs matching the filter on the server
    limit: int
    offset: int = Field(default=0, exclude=True)  # MCP paging: runs skipped before ``runs``

    @computed_field  # type: ignore[prop-decorator]
    @property
    def more(self) -> int:
        return max(0, self.total - self.offset - len(self.runs))


class ToolCall(ResultModel):
    step_index: int
    tool_name: str
    called_at: float | None = None
    success: bool | None = None  # None: no tool.responded event arrived
    latency_ms: float | None = None
    error: str | None = None
    args: str | None = None  # as the SDK sent it (redacted, capped) or its hash on old SDKs
    output_length: int | None = None


class LlmCall(ResultModel):
    step_index: int
    model: str | None = None
    called_at: float | None = None
    prompt_tokens: int | None = None
    prompt_tokens_estimated: bool = False
    completion_tokens: int | None = None
    latency_ms: float | None = None
    finish_reason: str | None = None
    responded: bool = False


class ContextGrowth(ResultModel):
    """Prompt tokens across the run's LLM calls: the context-bloat hint."""

    first_tokens: int
    last_tokens: int
    growth_factor: float
    llm_call_count: int
    flagged: bool  # the SDK detector's defaults: >= 3 calls, growth >= 3x, last prompt >= 2,000 tokens
    sequence: list[int]


class RunLink(ApiModel):
    """A parent or child run (SDK ``parent_run_id``), as the run list shows it."""

    run_id: str
    agent_id: Str0 = ""
    started_at: Epoch = None
    step_count: int | None = None
    signal_count: int | None = None
    exit_reason: str | None = None


class RunView(ResultModel):
    """A run with its events paired into tool calls and LLM calls."""

    run: RunDetail
    requested_id: str
    tool_calls: list[ToolCall]
    llm_calls: list[LlmCall]
    retrievals: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    context_growth: ContextGrowth | None = None
    sdk_exit_reason: str | None = None  # the SDK's own exit_reason from the terminal event payload
    error: str | None = None  # run.errored payload error
    parent: RunLink | None = None  # the run that started this one (its events' parent_run_id)
    children: list[RunLink] = Field(default_factory=list)  # runs whose parent_run_id is this run
    notes: list[str] = Field(default_factory=list)


class RunComparisonSide(ResultModel):
    run_id: str
    agent_id: str
    agent_version: str
    exit_reason: str | None
    duration_s: float | None
    step_count: int
    event_count: int
    total_tokens: int | None
    cost_usd: float | None
    tool_calls: int
    failed_tool_calls: int
    llm_calls: int
    signal_types: list[str]


class RunComparison(ResultModel):
    left: RunComparisonSide
    right: RunComparisonSide
    differences: list[str]
