"""GET /v1/agents/{id}/health-score, or the same score computed client-side."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from dunetrace_cli.models.common import ApiModel, Bool0, DictOrEmpty, Int0


class HealthComponent(ApiModel):
    score: Int0 = 0
    max: Int0 = 0
    value: float | None = None
    label: str = ""
    baseline: float | None = None


class HealthScore(ApiModel):
    agent_id: str
    score: int | None = None  # 0-100; None with fewer than 3 runs in 30 days
    components: Annotated[dict[str, HealthComponent], DictOrEmpty] = Field(default_factory=dict)
    sample_runs: Int0 = 0
    baseline_ready: Bool0 = False
    # ours: who computed it, and caveats of a client-side computation
    source: Literal["server", "client"] = "server"
    notes: list[str] = Field(default_factory=list)

    @property
    def grade(self) -> str:
        from dunetrace_cli.domain.health import grade

        return grade(self.score)
