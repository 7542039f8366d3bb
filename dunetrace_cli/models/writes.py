"""What a write operation did: the action, its target, whether anything changed, and the server's answer."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dunetrace_cli.models.common import ResultModel


class WriteResult(ResultModel):
    action: str  # e.g. "create_policy", "resolve_issue"
    target: str  # "policy", "custom detector", "issue", "signal"
    id: int | str | None = None
    changed: bool = True
    message: str  # ours, one sentence
    body: Any = None  # the server's answer, exactly
    notes: list[str] = Field(default_factory=list)
