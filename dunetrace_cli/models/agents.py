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
    # ours, with `agents --health` (list_agents(health=True)): the agent's health score 0-100, None without one
    health_score: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def last_seen_iso(self) -> str | None:
        return iso(self.last_seen)


class AgentList(ResultModel):
    """Every agent the API knows, all pages fetched."""

    agents: list[AgentSummary]
    total: int
    with_health: bool = Field(default=False, exclude=True)  # health scores were asked for (the table's column)
    offset: int = Field(default=0, exclude=True)  # MCP paging: the view's first row (the list is always whole)
