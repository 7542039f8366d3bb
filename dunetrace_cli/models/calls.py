"""Voice calls (GET /v1/calls, /v1/calls/{conversation_id})."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, computed_field

from dunetrace_cli.domain.voice import COMPLETION_STATUSES, COST_BUCKETS  # noqa: F401 - re-exported
from dunetrace_cli.models.common import ApiModel, DictOrEmpty, Epoch, Int0, ListOrEmpty, ResultModel, Str0, iso


class CallSummary(ApiModel):
    id: int
    agent_id: Str0 = ""
    external_id: Str0 = ""
    first_run_at: Epoch = None
    last_run_at: Epoch = None
    run_count: Int0 = 0
    duration_seconds: float = 0.0
    completion_status: Str0 = ""
    silence_pct: float = 0.0  # a 0-1 fraction despite the name
    agent_talk_ms: Int0 = 0
    caller_talk_ms: Int0 = 0
    voice_signal_count: Int0 = 0
    cost_usd: float = 0.0
    cost_breakdown: Annotated[dict[str, float], DictOrEmpty] = Field(default_factory=dict)
    agent_talk_ratio: float | None = None
    sentiment_trend: float | str | list[float] | dict[str, Any] | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def last_run_at_iso(self) -> str | None:
        return iso(self.last_run_at)


class CallDetail(CallSummary):
    runs: Annotated[list[dict[str, Any]], ListOrEmpty] = Field(default_factory=list)
    voice_signals: Annotated[list[str], ListOrEmpty] = Field(default_factory=list)
    timeline: Annotated[list[dict[str, Any]], ListOrEmpty] = Field(default_factory=list)
    recordings: Annotated[list[dict[str, Any]], ListOrEmpty] = Field(default_factory=list)
    signal_jumps: Annotated[list[dict[str, Any]], ListOrEmpty] = Field(default_factory=list)


class CallList(ResultModel):
    agent_id: str | None = None
    completion_status: str | None = None
    cost_bucket: str | None = None
    calls: list[CallSummary]
    total: int
    limit: int
    offset: int = Field(default=0, exclude=True)  # MCP paging: calls skipped before ``calls``
    notes: list[str] = Field(default_factory=list)
