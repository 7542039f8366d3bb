"""The deploy gate's result: per agent, per rule, observed vs threshold and a verdict."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, computed_field

from dunetrace_cli.models.common import NextStep, ResultModel, iso


class CheckRules(ResultModel):
    """The rules asked for (after the rules file and flags are merged). None / False = not checked."""

    min_score: int | None = None
    no_systemic: bool = False
    systemic_types: list[str] = Field(default_factory=list)  # empty: every type
    max_severity: str | None = None
    max_failure_rate: float | None = None  # fraction 0-1
    no_regression: bool = False
    fixes_verified: bool = False
    window: str = "24h"  # --since, for max_severity, max_failure_rate and fixes_verified
    since: float | None = None  # the window's start (epoch)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def since_iso(self) -> str | None:
        return iso(self.since)

    def active(self) -> list[str]:
        names = []
        if self.min_score is not None:
            names.append("min_score")
        if self.no_systemic:
            names.append("no_systemic")
        if self.max_severity is not None:
            names.append("max_severity")
        if self.max_failure_rate is not None:
            names.append("max_failure_rate")
        if self.no_regression:
            names.append("no_regression")
        if self.fixes_verified:
            names.append("fixes_verified")
        return names


class RuleResult(ResultModel):
    rule: str  # min_score, no_systemic, max_severity, max_failure_rate, no_regression, fixes_verified
    verdict: Literal["pass", "fail", "no_data", "error"]
    observed: str
    threshold: str
    value: int | float | str | list[str] | dict[str, Any] | None = None  # the observed figure (typed for schema checks)
    detail: str | None = None
    source: Literal["server", "client"] | None = None
    exit_code: int | None = None
    offenders: list[dict[str, Any]] = Field(default_factory=list)


class AgentCheck(ResultModel):
    agent_id: str
    verdict: Literal["pass", "fail", "error"]
    rules: list[RuleResult]


class CheckResult(ResultModel):
    verdict: Literal["pass", "fail", "error"]
    exit_code: int  # 0 pass, 1 fail, else the code of the error that kept a rule from being decided
    agents: list[AgentCheck]
    rules: CheckRules
    checked_at: float
    notes: list[str] = Field(default_factory=list)
    next_steps: list[NextStep] = Field(default_factory=list)  # where to look for each failed rule

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def checked_at_iso(self) -> str | None:
        return iso(self.checked_at)
