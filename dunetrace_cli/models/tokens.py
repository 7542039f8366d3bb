"""GET /v1/agents/{id}/token-stats, or token totals computed from run details."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from dunetrace_cli.models.common import ApiModel, DictOrEmpty, Int0, ListOrEmpty


class TokenWindow(ApiModel):
    total_tokens: Int0 = 0
    prompt_tokens: Int0 = 0
    completion_tokens: Int0 = 0
    total_cost_usd: float | None = None
    run_count: Int0 = 0
    failed_run_tokens: int | None = None
    failed_run_cost_usd: float | None = None
    failed_run_count: int | None = None
    failed_pct: float | None = None
    excess_tokens: int | None = None
    excess_cost_usd: float | None = None
    baseline_tokens: int | None = None
    prevented_tokens: int | None = None
    prevented_cost_usd: float | None = None
    blocked_run_count: int | None = None
    projected_monthly_excess_tokens: int | None = None
    projected_monthly_excess_cost_usd: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_names(cls, data: object) -> object:
        """Older servers name the failed-run figures wasted_*; newer ones keep them as aliases."""
        if isinstance(data, dict):
            data = dict(data)
            for new, old in (
                ("failed_run_tokens", "wasted_tokens"),
                ("failed_run_cost_usd", "wasted_cost_usd"),
                ("failed_run_count", "wasted_run_count"),
                ("failed_pct", "wasted_pct"),
            ):
                if data.get(new) is None and data.get(old) is not None:
                    data[new] = data[old]
        return data


class WasteByType(ApiModel):
    failure_type: str = ""
    wasted_tokens: Int0 = 0
    wasted_cost_usd: float | None = None
    affected_runs: Int0 = 0


class TokenStats(ApiModel):
    agent_id: str
    windows: Annotated[dict[str, TokenWindow], DictOrEmpty] = Field(default_factory=dict)
    waste_by_failure_type: Annotated[list[WasteByType], ListOrEmpty] = Field(default_factory=list)
    source: Literal["server", "client"] = "server"
    cost_known: bool = True
    notes: list[str] = Field(default_factory=list)
