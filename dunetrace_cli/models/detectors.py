"""Custom detectors (GET /v1/custom-detectors: a bare JSON array)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Field

from dunetrace_cli.models.common import ApiModel, DictOrEmpty, Epoch, Int0, ResultModel, Str0

DETECTOR_STATUSES = ("shadow", "active", "paused")


class CustomDetector(ApiModel):
    id: int | str
    agent_id: Str0 = ""
    name: Str0 = ""
    description: Str0 = ""
    status: Str0 = ""  # shadow | active | paused
    config: Annotated[dict[str, Any], DictOrEmpty] = Field(
        default_factory=dict, validation_alias=AliasChoices("config", "config_json")
    )  # the table column is config_json
    total_runs: Int0 = 0
    shadow_fire_count: Int0 = 0
    created_at: Epoch = None  # an ISO string on the wire (raw row), epoch here


class DetectorList(ResultModel):
    agent_id: str | None = None
    detectors: list[CustomDetector]
    notes: list[str] = Field(default_factory=list)
    # MCP paging (the route answers a bare array of every row: the page is cut client-side); not in --json
    total: int = Field(default=0, exclude=True)
    limit: int | None = Field(default=None, exclude=True)
    offset: int = Field(default=0, exclude=True)
