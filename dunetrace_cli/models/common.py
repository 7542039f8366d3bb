"""Shared model pieces: the tolerant base class, timestamps, paging."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


def _to_epoch(value: Any) -> Any:
    """Accept epoch seconds (the API's format) or an ISO-8601 string (the export endpoint's)."""
    if value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


Epoch = Annotated[float | None, BeforeValidator(_to_epoch)]


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ISO-8601 UTC with a Z, second precision."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


def _none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _none_to_empty_dict(value: Any) -> Any:
    return {} if value is None else value


def _none_to_zero(value: Any) -> Any:
    return 0 if value is None else value


def _none_to_false(value: Any) -> Any:
    return False if value is None else value


def _none_to_empty_str(value: Any) -> Any:
    return "" if value is None else value


ListOrEmpty = BeforeValidator(_none_to_empty_list)
DictOrEmpty = BeforeValidator(_none_to_empty_dict)
Int0 = Annotated[int, BeforeValidator(_none_to_zero)]
Bool0 = Annotated[bool, BeforeValidator(_none_to_false)]
Str0 = Annotated[str, BeforeValidator(_none_to_empty_str)]


class ApiModel(BaseModel):
    """A model mirroring an API object: unknown fields are kept, missing ones default."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ResultModel(BaseModel):
    """A result the query layer computes (not a raw API object)."""

    model_config = ConfigDict(extra="ignore")


class Page(ApiModel):
    total: Int0 = 0
    offset: Int0 = 0
    limit: Int0 = 0
    has_more: Bool0 = False


class NextStep(ResultModel):
    """What to look at next, as data: the registry operation, its arguments, and why.

    Each face phrases it from the registry (``dunetrace signal 87`` / ``get_signal_detail(signal_id=87)``),
    so the CLI table, the MCP text and the MCP structuredContent always name the same next step.
    """

    op: str
    args: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
