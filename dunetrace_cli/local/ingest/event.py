"""One SDK event as the store keeps it, and the JSON rules every ingest path shares.

Limits and type sets mirror the latest ingest service: 500 events per batch, 10 MiB per body, ids of
1 to 1,000 characters, step_index within int32. JSON is parsed strictly (no NaN/Infinity) and stored
compact.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from dunetrace.models import EventType

MAX_BATCH_EVENTS = 500
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_ID_CHARS = 1000
MAX_STEP_INDEX = 2**31 - 1

KNOWN_EVENT_TYPES: frozenset[str] = frozenset(e.value for e in EventType)
TERMINAL_TYPES = frozenset({"run.completed", "run.errored"})
#: Routed to their own table, as the latest ingest service does; never part of a run's events.
SIDE_TABLE_TYPES = frozenset({"policy.evaluated"})


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse_finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_STRICT = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_parse_finite_float)


def loads_strict(data: str | bytes) -> Any:
    """``json.loads`` that refuses NaN/Infinity and out-of-range numbers (they break JSON readers later)."""
    if isinstance(data, str) and not data.startswith("\ufeff"):
        return _STRICT.decode(data)  # json.loads without building a decoder per call
    return json.loads(data, parse_constant=_reject_constant, parse_float=_parse_finite_float)


def _scrub(value: Any) -> Any:
    """Replace lone surrogates (valid in JSON escapes, not in UTF-8) so the value can be stored."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8") if not _utf8_ok(value) else value
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)


def dumps_compact(value: Any) -> str:
    """Compact JSON (``json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)``)."""
    return _COMPACT.encode(value)


def _c_encoder() -> Any:
    """The C encoder behind ``dumps_compact``, made once, without the cycle check (None if unavailable or
    not byte-equal to ``dumps_compact`` on this Python)."""
    try:
        from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]

        enc = c_make_encoder(None, str, c_encode_basestring, None, ":", ",", False, False, False)
        probe = {"a": [1, -2.5, 1e300, "é\n\u2028\"", None, True, {}], "b": {"c": 10**30}}
        if "".join(enc(probe, 0)) != dumps_compact(probe):
            return None
        return enc
    except Exception:  # noqa: BLE001 - any mismatch means: use dumps_compact
        return None


_C_ENCODE = _c_encoder()


def dumps_parsed(value: dict[str, Any]) -> str:
    """``dumps_compact`` of a value parsed from JSON (no cycles, no foreign types): the same text, faster.
    Raises ValueError for NaN/Infinity, as ``dumps_compact`` does."""
    if _C_ENCODE is None:
        return dumps_compact(value)
    return "".join(_C_ENCODE(value, 0))


@dataclass(slots=True)
class Event:
    """One validated SDK event, ready to store."""

    event_id: str
    run_id: str
    agent_id: str
    agent_version: str
    event_type: str
    step_index: int
    timestamp: float
    parent_run_id: str | None
    trace_id: str | None
    conversation_id: str | None
    payload: dict[str, Any]
    payload_text: str

    def to_sdk_dict(self) -> dict[str, Any]:
        """The event in the SDK's ``AgentEvent.to_dict()`` key order (for replay/export)."""
        return {
            "event_type": self.event_type,
            "run_id": self.run_id,
            "agent_id": self.agent_id,
            "agent_version": self.agent_version,
            "step_index": self.step_index,
            "timestamp": self.timestamp,
            "payload": self.payload,
            "parent_run_id": self.parent_run_id,
            "trace_id": self.trace_id,
            "conversation_id": self.conversation_id,
            "event_id": self.event_id,
        }


def canonical_event_id(raw: dict[str, Any]) -> str:
    """Stable id for an event that carries none: sha256 of its canonical JSON."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
