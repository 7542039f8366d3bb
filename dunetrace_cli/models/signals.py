"""Failure signals: as embedded in a run detail, as listed, and the search result around them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, computed_field

from dunetrace_cli.models.common import ApiModel, Bool0, DictOrEmpty, Epoch, Int0, ListOrEmpty, ResultModel, Str0, iso
from dunetrace_cli.models.fixes import FixStatus


class SuggestedFix(ApiModel):
    description: Str0 = ""
    language: Str0 = "text"
    code: Str0 = ""


class RunSignal(ApiModel):
    id: int
    failure_type: str  # an open set: never validate against a list
    severity: Str0 = ""
    step_index: Int0 = 0
    confidence: float | None = None
    detected_at: Epoch = None
    evidence: Annotated[dict[str, Any], DictOrEmpty] = Field(default_factory=dict)
    shadow: Bool0 = False
    title: Str0 = ""
    what: Str0 = ""
    why_it_matters: Str0 = ""
    evidence_summary: Str0 = ""
    suggested_fixes: Annotated[list[SuggestedFix], ListOrEmpty] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def detected_at_iso(self) -> str | None:
        return iso(self.detected_at)


class Signal(RunSignal):
    run_id: Str0 = ""
    agent_id: Str0 = ""
    agent_version: Str0 = ""
    alerted: Bool0 = False
    co_signal_count: Int0 = 0


class SignalSearch(ResultModel):
    """Signals matching filters, newest first, across one agent or all of them."""

    signals: list[Signal]
    total_matched: int  # all matches found (lower bound when `complete` is false)
    complete: bool  # false when the scan stopped at the limit before exhausting matches
    agent_id: str | None = None
    severity: str | None = None
    failure_type: str | None = None
    since: float | None = None
    agents_scanned: int | None = None  # None: the org-wide endpoint covered every agent
    limit: int
    offset: int = Field(default=0, exclude=True)  # MCP paging: matches skipped before ``signals``

    @computed_field  # type: ignore[prop-decorator]
    @property
    def since_iso(self) -> str | None:
        return iso(self.since)


class SignalView(ResultModel):
    signal: Signal
    detector: dict[str, Any] | None = None  # our detector reference entry, when we know the type
    run_signal_count: int | None = None  # signals on the same run
    fix_status: FixStatus | None = None  # GET /v1/signals/{id}/fix-status; None where the server has no such route
