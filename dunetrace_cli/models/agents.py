"""Agents as the Customer API lists them (GET /v1/agents)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, computed_field

from dunetrace_cli.models.common import ApiModel, DictOrEmpty, Epoch, Int0, ListOrEmpty, ResultModel, iso


class AgentSummary(ApiModel):
    agent_id: str
    last_seen: Epoch = None
    run_count: Int0 = 0
    signal_count: Int0 = 0
    critical_count: Int0 = 0
    high_count: Int0 = 0
    sparkline: Annotated[list[int], ListOrEmpty] = Field(default_factory=list)
    failure_types: Annotated[dict[str, int], DictOrEmpty] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def last_seen_iso(self) -> str | None:
        return iso(self.last_seen)


class AgentList(ResultModel):
    """Every agent the API knows, all pages fetched."""

    agents: list[AgentSummary]
    total: int
