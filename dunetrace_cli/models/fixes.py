"""Applied fixes (GET /v1/agents/{id}/fixes) and one signal's fix status (GET /v1/signals/{id}/fix-status)."""

from __future__ import annotations

from pydantic import Field

from dunetrace_cli.models.common import ApiModel, Bool0, Epoch, Int0, ResultModel, Str0

# The server's verdict rule: >= 10 runs after and 0 recurrences -> verified; >= 5 and 0 -> likely_fixed;
# any recurrence -> still_occurring; else insufficient_data.
VERDICTS = ("verified", "likely_fixed", "still_occurring", "insufficient_data")


class FixRecord(ApiModel):
    id: int
    signal_id: Int0 = 0
    run_id: Str0 = ""
    failure_type: Str0 = ""
    severity: Str0 = ""
    agent_version: Str0 = ""
    fix_type: Str0 = ""
    applied_via: Str0 = ""
    langfuse_prompt_name: str | None = None
    langfuse_version: int | None = None
    applied_at: Epoch = None
    runs_after: Int0 = 0
    recurrences_after: Int0 = 0
    verdict: Str0 = ""


class FixList(ResultModel):
    agent_id: str
    fixes: list[FixRecord]
    notes: list[str] = Field(default_factory=list)
    # MCP paging (the route answers every fix, at most 100: the page is cut client-side); not in --json
    total: int = Field(default=0, exclude=True)
    limit: int | None = Field(default=None, exclude=True)
    offset: int = Field(default=0, exclude=True)


class FixStatus(ApiModel):
    """The fix-status body; ``signal_id`` is ours. The API says runs_after_fix / recurrences_after_fix."""

    signal_id: Int0 = 0
    fix_applied: Bool0 = False
    applied_at: Epoch = None
    applied_via: str | None = None
    langfuse_prompt_name: str | None = None
    langfuse_version: int | None = None
    runs_after_fix: int | None = None
    recurrences_after_fix: int | None = None
    verdict: str | None = None
