"""Runtime policies (GET /v1/policies: a bare JSON array) and the write results."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from dunetrace_cli.models.common import ApiModel, Bool0, DictOrEmpty, Epoch, Int0, ResultModel, Str0


class Policy(ApiModel):
    id: int | str
    agent_id: Str0 = ""
    name: Str0 = ""
    condition: Annotated[dict[str, Any], DictOrEmpty] = Field(default_factory=dict)
    action: Annotated[dict[str, Any], DictOrEmpty] = Field(default_factory=dict)
    enabled: Bool0 = False
    priority: Int0 = 0
    signature: str | None = None
    sig_version: int | None = None
    created_at: Epoch = None
    updated_at: Epoch = None


class PolicyList(ResultModel):
    agent_id: str | None = None
    policies: list[Policy]
    notes: list[str] = Field(default_factory=list)
    # MCP paging (the route answers a bare array of every row: the page is cut client-side); not in --json
    total: int = Field(default=0, exclude=True)
    limit: int | None = Field(default=None, exclude=True)
    offset: int = Field(default=0, exclude=True)
