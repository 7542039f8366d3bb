"""Validation of SDK events and ingest bodies, as the latest ingest service's request schema does it.

A body it would reject with 422 is rejected here with the same FastAPI-style ``{"type", "loc", "msg",
"input"}`` error items (field names, required fields, the 500-event cap). Agent ids and tool names with
control characters (C0/C1, ESC, bidi overrides) are refused: they would reach terminals.
"""

from __future__ import annotations

import math
import operator
import re
import time
from typing import Any

from dunetrace_cli.local.ingest.event import (
    KNOWN_EVENT_TYPES,
    MAX_BATCH_EVENTS,
    MAX_ID_CHARS,
    MAX_STEP_INDEX,
    Event,
    _scrub,
    _utf8_ok,
    canonical_event_id,
    dumps_compact,
    dumps_parsed,
)


class ValidationFailed(ValueError):
    """One or more FastAPI-style error items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["msg"] if errors else "invalid input")
        self.errors = errors

    def short(self) -> str:
        """``loc: msg`` of the first errors (loc without the leading 'body'), for a one-line report."""
        parts = []
        for err in self.errors[:3]:
            loc = [str(p) for p in err.get("loc", ()) if p != "body"]
            where = ".".join(loc)
            parts.append(f"{where}: {err['msg']}" if where else err["msg"])
        more = f" (+{len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        return "; ".join(parts) + more


def _err(type_: str, loc: tuple[Any, ...], msg: str, value: Any = None, **ctx: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"type": type_, "loc": list(loc), "msg": msg}
    item["input"] = _echo(value)
    if ctx:
        item["ctx"] = ctx
    return item


def _echo(value: Any) -> Any:
    """A safe, small echo of an offending input (never whole objects: they may hold secrets)."""
    if value is None or isinstance(value, (bool, int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value
    if isinstance(value, str):
        text = value if len(value) <= 120 else value[:117] + "..."
        return text.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[...]"
    return type(value).__name__


def _req_str(raw: dict[str, Any], key: str, loc: tuple[Any, ...], errors: list[dict[str, Any]]) -> str:
    if key not in raw or raw[key] is None:
        errors.append(_err("missing", (*loc, key), "Field required", raw.get(key)))
        return ""
    value = raw[key]
    if not isinstance(value, str):
        errors.append(_err("string_type", (*loc, key), "Input should be a valid string", value))
        return ""
    if len(value) < 1:
        errors.append(
            _err("string_too_short", (*loc, key), "String should have at least 1 character", value, min_length=1)
        )
    elif len(value) > MAX_ID_CHARS:
        errors.append(_too_long((*loc, key), value))
    elif not _utf8_ok(value):
        errors.append(_err("string_unicode", (*loc, key), "String contains an invalid unicode surrogate", value))
    return value


def _too_long(loc: tuple[Any, ...], value: str) -> dict[str, Any]:
    return _err(
        "string_too_long", loc, f"String should have at most {MAX_ID_CHARS} characters", value,
        max_length=MAX_ID_CHARS,
    )


def _opt_str(raw: dict[str, Any], key: str, loc: tuple[Any, ...], errors: list[dict[str, Any]]) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(_err("string_type", (*loc, key), "Input should be a valid string", value))
        return None
    if len(value) > MAX_ID_CHARS:
        errors.append(_too_long((*loc, key), value))
        return None
    if not _utf8_ok(value):
        errors.append(_err("string_unicode", (*loc, key), "String contains an invalid unicode surrogate", value))
        return None
    return value


def _as_int(value: Any) -> int | None:
    """Pydantic-lax int: ints, integral floats and numeric strings; never bools."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and len(value) <= 40:
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            out = float(value)
        except OverflowError:
            return None
        return out if math.isfinite(out) else None
    if isinstance(value, str) and len(value) <= 60:
        try:
            out = float(value.strip())
        except ValueError:
            return None
        return out if math.isfinite(out) else None
    return None


#: C0 and C1 controls (ESC included), DEL, and the bidi controls that reorder what a terminal shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _check_name(value: str, loc: tuple[Any, ...], errors: list[dict[str, Any]]) -> None:
    """Agent ids and tool names are shown in every table: refuse control characters in them."""
    bad = _CONTROL.search(value) if value else None
    if bad is not None:
        errors.append(
            _err(
                "string_pattern_mismatch", loc,
                f"{loc[-1]} contains the control character U+{ord(bad.group()):04X}; "
                "ids and tool names must be printable text",
                value,
            )
        )  # fmt: skip


#: Agent ids and tool names already found free of control characters (bounded: a cache, not a registry).
_CLEAN_NAMES: set[str] = set()
_CLEAN_NAMES_MAX = 4096


def _clean_name(value: str) -> bool:
    if value in _CLEAN_NAMES:
        return True
    if _CONTROL.search(value) is not None:
        return False
    if len(_CLEAN_NAMES) < _CLEAN_NAMES_MAX:
        _CLEAN_NAMES.add(value)
    return True


#: The fields ``_fast_event`` reads, in the order it takes them.
FAST_KEYS = (
    "event_type", "run_id", "agent_id", "agent_version", "step_index", "timestamp", "payload", "event_id",
    "parent_run_id", "trace_id", "conversation_id",
)  # fmt: skip
_PICK_ALL = operator.itemgetter(*FAST_KEYS)


def pick_fast(raw: dict[str, Any]) -> tuple[Any, ...]:
    """The ``FAST_KEYS`` values of a dict holding every one of them (one C call)."""
    return _PICK_ALL(raw)  # type: ignore[no-any-return]


def _fast_event(raw: dict[str, Any], values: tuple[Any, ...] | None = None) -> Event | None:
    """The common, well-formed event in one pass, or None when any field needs the full rules below
    (which then produce the same Event or the errors). The caller has ruled out lone surrogates.
    ``values``: ``raw``'s ``FAST_KEYS`` values when the caller has them (``pick_fast``)."""
    if values is None:
        values = tuple(map(raw.get, FAST_KEYS))
    event_type, run_id, agent_id, version, step, ts, payload, event_id, parent, trace, conv = values
    if not (
        type(event_type) is str and event_type in KNOWN_EVENT_TYPES and type(run_id) is str and type(agent_id) is str and type(version) is str
        and type(step) is int and type(payload) is dict
        and ((type(ts) is float and math.isfinite(ts)) or (type(ts) is int and -(2**53) < ts < 2**53))
        and 0 < len(run_id) <= MAX_ID_CHARS and 0 < len(agent_id) <= MAX_ID_CHARS and len(version) <= MAX_ID_CHARS
        and 0 <= step <= MAX_STEP_INDEX and type(event_id) is str and 0 < len(event_id) <= MAX_ID_CHARS
        and _clean_name(agent_id)
    ):  # fmt: skip
        return None  # an event without an id has it minted from the canonical JSON by the full path
    tool_name = payload.get("tool_name")
    if isinstance(tool_name, str) and not _clean_name(tool_name):
        return None
    if not (
        (parent is None or (type(parent) is str and len(parent) <= MAX_ID_CHARS))
        and (trace is None or (type(trace) is str and len(trace) <= MAX_ID_CHARS))
        and (conv is None or (type(conv) is str and len(conv) <= MAX_ID_CHARS))
    ):
        return None
    try:
        payload_text = dumps_parsed(payload)
    except (ValueError, RecursionError, TypeError):
        return None
    return Event(
        event_id, run_id, agent_id, version, event_type, step, float(ts), parent or None, trace or None,
        conv or None, payload, payload_text,
    )  # fmt: skip


def normalize_event(
    raw: Any, loc: tuple[Any, ...] = (), *, now: float | None = None, no_surrogates: bool = False
) -> Event:
    """Validate one event dict as the ingest service does; raise ValidationFailed with every problem.

    ``no_surrogates``: the caller knows no string of ``raw`` holds a lone surrogate (its JSON text has no
    ``\\ud`` escape), which allows the one-pass path for well-formed events.
    """
    if not isinstance(raw, dict):
        raise ValidationFailed([_err("model_attributes_type", loc, "Input should be a valid dictionary", raw)])
    if no_surrogates:
        fast = _fast_event(raw)
        if fast is not None:
            return fast
    errors: list[dict[str, Any]] = []
    event_type = _req_str(raw, "event_type", loc, errors)
    if event_type and not any(e["loc"][-1] == "event_type" for e in errors) and event_type not in KNOWN_EVENT_TYPES:
        errors.append(
            _err(
                "enum",
                (*loc, "event_type"),
                "Input should be a known Dunetrace event type (e.g. 'run.started', 'llm.called', 'tool.called')",
                event_type,
            )
        )
    run_id = _req_str(raw, "run_id", loc, errors)
    agent_id = _req_str(raw, "agent_id", loc, errors)
    _check_name(agent_id, (*loc, "agent_id"), errors)
    agent_version = raw.get("agent_version")
    if agent_version is None:
        agent_version = ""
    elif not isinstance(agent_version, str):
        errors.append(_err("string_type", (*loc, "agent_version"), "Input should be a valid string", agent_version))
        agent_version = ""
    elif len(agent_version) > MAX_ID_CHARS or not _utf8_ok(agent_version):
        errors.append(
            _err("string_too_long", (*loc, "agent_version"), "agent_version is too long or not valid UTF-8", agent_version)
        )
    step_raw = raw.get("step_index", 0)
    step = _as_int(step_raw) if step_raw is not None else 0
    if step is None:
        errors.append(_err("int_parsing", (*loc, "step_index"), "Input should be a valid integer", step_raw))
        step = 0
    elif step < 0:
        errors.append(
            _err("greater_than_equal", (*loc, "step_index"), "Input should be greater than or equal to 0", step_raw, ge=0)
        )
    elif step > MAX_STEP_INDEX:
        errors.append(
            _err(
                "less_than_equal",
                (*loc, "step_index"),
                f"Input should be less than or equal to {MAX_STEP_INDEX}",
                step_raw,
                le=MAX_STEP_INDEX,
            )
        )
    ts_raw = raw.get("timestamp")
    if ts_raw is None:
        timestamp = now if now is not None else time.time()
    else:
        ts = _as_float(ts_raw)
        if ts is None:
            errors.append(_err("float_parsing", (*loc, "timestamp"), "Input should be a valid finite number", ts_raw))
            timestamp = 0.0
        else:
            timestamp = ts
    payload = raw.get("payload")
    if payload is None:
        payload = {}
    elif not isinstance(payload, dict):
        errors.append(_err("dict_type", (*loc, "payload"), "Input should be a valid dictionary", payload))
        payload = {}
    tool_name = payload.get("tool_name")
    if isinstance(tool_name, str):
        _check_name(tool_name, (*loc, "payload", "tool_name"), errors)
    parent_run_id = _opt_str(raw, "parent_run_id", loc, errors)
    trace_id = _opt_str(raw, "trace_id", loc, errors)
    conversation_id = _opt_str(raw, "conversation_id", loc, errors)
    event_id = _opt_str(raw, "event_id", loc, errors)
    if errors:
        raise ValidationFailed(errors)
    try:
        payload_text = dumps_compact(payload)
        if not _utf8_ok(payload_text):
            payload = _scrub(payload)
            payload_text = dumps_compact(payload)
    except (ValueError, RecursionError, TypeError) as exc:
        raise ValidationFailed(
            [_err("value_error", (*loc, "payload"), f"Payload cannot be stored as JSON: {exc}", payload)]
        ) from None
    if event_id is None:
        try:
            event_id = canonical_event_id(raw)
        except (ValueError, RecursionError) as exc:  # pragma: no cover - raw came from JSON
            raise ValidationFailed([_err("value_error", loc, f"Event cannot be hashed: {exc}", None)]) from None
    return Event(
        event_id=event_id,
        run_id=run_id,
        agent_id=agent_id,
        agent_version=agent_version,
        event_type=event_type,
        step_index=step,
        timestamp=timestamp,
        parent_run_id=parent_run_id,
        trace_id=trace_id,
        conversation_id=conversation_id,
        payload=payload,
        payload_text=payload_text,
    )


def validate_batch(body: Any, *, now: float | None = None, no_surrogates: bool = False) -> list[Event]:
    """Validate an ingest body ``{"api_key", "agent_id", "events": [...]}``; all or nothing, as the server does.

    ``no_surrogates``: as for ``normalize_event`` (the body's JSON text has no ``\\ud`` escape)."""
    if not isinstance(body, dict):
        raise ValidationFailed([_err("model_attributes_type", ("body",), "Input should be a valid dictionary", body)])
    errors: list[dict[str, Any]] = []
    if "agent_id" not in body or body["agent_id"] is None:
        errors.append(_err("missing", ("body", "agent_id"), "Field required", None))
    elif not isinstance(body["agent_id"], str):
        errors.append(_err("string_type", ("body", "agent_id"), "Input should be a valid string", body["agent_id"]))
    api_key = body.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        errors.append(_err("string_type", ("body", "api_key"), "Input should be a valid string", None))
    events = body.get("events")
    if events is None:
        errors.append(_err("missing", ("body", "events"), "Field required", None))
    elif not isinstance(events, list):
        errors.append(_err("list_type", ("body", "events"), "Input should be a valid list", events))
    elif len(events) < 1:
        errors.append(
            _err("too_short", ("body", "events"), "List should have at least 1 item after validation, not 0", [], min_length=1)
        )
    elif len(events) > MAX_BATCH_EVENTS:
        errors.append(
            _err(
                "too_long",
                ("body", "events"),
                f"List should have at most {MAX_BATCH_EVENTS} items after validation, not {len(events)}",
                None,
                max_length=MAX_BATCH_EVENTS,
                actual_length=len(events),
            )
        )
    if errors:
        raise ValidationFailed(errors)
    out: list[Event] = []
    stamp = time.time() if now is None else now
    for i, raw in enumerate(events):  # type: ignore[arg-type]
        try:
            out.append(normalize_event(raw, ("body", "events", i), now=stamp, no_surrogates=no_surrogates))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            if len(errors) >= 20:
                break
    if errors:
        raise ValidationFailed(errors)
    return out
