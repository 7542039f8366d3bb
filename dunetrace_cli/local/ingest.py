"""Ingest of SDK events into the local store: validation, de-duplication, run bookkeeping, JSONL reading.

The validation mirrors the latest ingest service's request schema (field names, required fields, the
500-event cap), so a body it would reject with 422 is rejected here with the same FastAPI-style
``{"type", "loc", "msg", "input"}`` error items. Writes are idempotent by ``event_id``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dunetrace.models import EventType

from dunetrace_cli.local.store import Store

MAX_BATCH_EVENTS = 500
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_ID_CHARS = 1000
MAX_STEP_INDEX = 2**31 - 1
_INT64 = 2**63 - 1

KNOWN_EVENT_TYPES: frozenset[str] = frozenset(e.value for e in EventType)
TERMINAL_TYPES = frozenset({"run.completed", "run.errored"})
#: Routed to their own table, as the latest ingest service does; never part of a run's events.
SIDE_TABLE_TYPES = frozenset({"policy.evaluated"})


# ── validation ────────────────────────────────────────────────────────────────────────────────
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


def loads_strict(data: str | bytes) -> Any:
    """``json.loads`` that refuses NaN/Infinity and out-of-range numbers (they break JSON readers later)."""
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


def dumps_compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)


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


def normalize_event(raw: Any, loc: tuple[Any, ...] = (), *, now: float | None = None) -> Event:
    """Validate one event dict as the ingest service does; raise ValidationFailed with every problem."""
    if not isinstance(raw, dict):
        raise ValidationFailed([_err("model_attributes_type", loc, "Input should be a valid dictionary", raw)])
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


def validate_batch(body: Any, *, now: float | None = None) -> list[Event]:
    """Validate an ingest body ``{"api_key", "agent_id", "events": [...]}``; all or nothing, as the server does."""
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
            out.append(normalize_event(raw, ("body", "events", i), now=stamp))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            if len(errors) >= 20:
                break
    if errors:
        raise ValidationFailed(errors)
    return out


# ── writing ───────────────────────────────────────────────────────────────────────────────────
def _int_field(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return max(-_INT64, min(_INT64, int(value)))


_RUN_COLUMNS = (
    "run_id agent_id agent_version started_at completed_at first_received_at last_received_at event_count "
    "max_step parent_run_id processed_at trigger prompt_tokens completion_tokens reasoning_tokens model "
    "input_text conversation_id trace_id terminal_event_type has_started sdk_exit_reason dropped_events "
    "processed_event_count input_hash first_tool_step signal_count needs_detection processing_error "
    "llm_called_prompt_tokens llm_responded_prompt_tokens has_llm_events "
    "event_clock last_event_at last_write_at needs_reeval baseline_key"
).split()
_RUN_MUTABLE = [c for c in _RUN_COLUMNS if c not in ("run_id",)]


def _clamp(n: int) -> int:
    return max(-_INT64, min(_INT64, n))


class _RunAcc:
    """Per-run aggregate kept on the ``runs`` row, updated event by event."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.r = row

    @classmethod
    def fresh(cls, ev: Event) -> _RunAcc:
        row = dict.fromkeys(_RUN_COLUMNS)
        row.update(
            run_id=ev.run_id,
            agent_id=ev.agent_id,
            agent_version=ev.agent_version,
            event_count=0,
            max_step=0,
            has_started=0,
            dropped_events=0,
            signal_count=0,
            needs_detection=0,
            llm_called_prompt_tokens=0,
            llm_responded_prompt_tokens=0,
            has_llm_events=0,
            event_clock=0,
            needs_reeval=0,
        )
        return cls(row)

    def add(self, ev: Event, received_at: float) -> None:
        r = self.r
        p = ev.payload
        r["event_count"] += 1
        r["max_step"] = max(r["max_step"], ev.step_index)
        r["last_event_at"] = ev.timestamp if r["last_event_at"] is None else max(r["last_event_at"], ev.timestamp)
        r["first_received_at"] = received_at if r["first_received_at"] is None else min(r["first_received_at"], received_at)
        r["last_received_at"] = received_at if r["last_received_at"] is None else max(r["last_received_at"], received_at)
        if r["conversation_id"] is None and ev.conversation_id:
            r["conversation_id"] = ev.conversation_id
        if r["trace_id"] is None and ev.trace_id:
            r["trace_id"] = ev.trace_id
        et = ev.event_type
        if et == "run.started":
            if not r["has_started"]:
                r["started_at"] = ev.timestamp
                r["agent_id"] = ev.agent_id
                r["agent_version"] = ev.agent_version
                text = p.get("input_text")
                if isinstance(text, str):
                    r["input_text"] = text
                    r["input_hash"] = hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - not security
            r["has_started"] = 1
            if ev.parent_run_id:
                r["parent_run_id"] = ev.parent_run_id
        elif r["parent_run_id"] is None and ev.parent_run_id and et not in TERMINAL_TYPES:
            r["parent_run_id"] = ev.parent_run_id
        if et in TERMINAL_TYPES:
            if r["terminal_event_type"] is None:
                r["terminal_event_type"] = et
                r["completed_at"] = ev.timestamp
                reason = p.get("exit_reason")
                if et == "run.errored":
                    r["sdk_exit_reason"] = reason if isinstance(reason, str) and reason else "error"
                else:
                    r["sdk_exit_reason"] = reason if isinstance(reason, str) and reason else "completed"
                r["dropped_events"] = max(r["dropped_events"] or 0, max(0, _int_field(p, "dropped_events")))
            if r["parent_run_id"] is None and ev.parent_run_id:
                r["parent_run_id"] = ev.parent_run_id
        elif et == "llm.called":
            r["has_llm_events"] = 1
            r["llm_called_prompt_tokens"] = _clamp(r["llm_called_prompt_tokens"] + _int_field(p, "prompt_tokens"))
            model = p.get("model")
            if r["model"] is None and isinstance(model, str) and model:
                r["model"] = model
        elif et == "llm.responded":
            r["has_llm_events"] = 1
            r["llm_responded_prompt_tokens"] = _clamp(
                r["llm_responded_prompt_tokens"] + _int_field(p, "prompt_tokens")
            )
            r["completion_tokens"] = _clamp((r["completion_tokens"] or 0) + _int_field(p, "completion_tokens"))
            r["reasoning_tokens"] = _clamp((r["reasoning_tokens"] or 0) + _int_field(p, "reasoning_tokens"))
        elif et == "tool.called":
            r["first_tool_step"] = (
                ev.step_index if r["first_tool_step"] is None else min(r["first_tool_step"], ev.step_index)
            )
        if r["has_llm_events"]:
            exact = r["llm_responded_prompt_tokens"]
            r["prompt_tokens"] = exact if exact != 0 else r["llm_called_prompt_tokens"]
            r["completion_tokens"] = r["completion_tokens"] or 0
            r["reasoning_tokens"] = r["reasoning_tokens"] or 0
        if r["terminal_event_type"] is not None or r["processed_at"] is not None:
            r["needs_detection"] = 1


_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events(event_id, run_id, agent_id, agent_version, event_type, step_index, timestamp, "
    "parent_run_id, trace_id, conversation_id, payload, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_POLICY_EVAL = (
    "INSERT OR IGNORE INTO policy_evaluations(event_id, run_id, agent_id, agent_version, step_index, timestamp, "
    "payload, received_at) VALUES (?,?,?,?,?,?,?,?)"
)


@dataclass
class WriteOutcome:
    new: int = 0
    duplicate: int = 0
    runs: set[str] = field(default_factory=set)
    ready_runs: set[str] = field(default_factory=set)  # runs that now need detection


def write_events(
    store: Store, events: Iterable[Event], *, received_at: float | None = None, event_clock: bool = False
) -> WriteOutcome:
    """Store a batch in ONE transaction (durable on return): new events inserted, duplicates skipped, runs updated.

    ``received_at`` is the server's arrival time (default: now). With ``event_clock`` (file input) each
    event's received time is its own timestamp instead, so the run keeps the time it ran at.
    """
    stamp = time.time() if received_at is None else received_at
    out = WriteOutcome()
    with store.write() as conn:
        new_by_run: dict[str, list[Event]] = {}
        for ev in events:
            if ev.event_type in SIDE_TABLE_TYPES:
                cur = conn.execute(
                    _INSERT_POLICY_EVAL,
                    (ev.event_id, ev.run_id, ev.agent_id, ev.agent_version, ev.step_index, ev.timestamp,
                     ev.payload_text, ev.timestamp if event_clock else stamp),
                )
            else:
                cur = conn.execute(
                    _INSERT_EVENT,
                    (ev.event_id, ev.run_id, ev.agent_id, ev.agent_version, ev.event_type, ev.step_index,
                     ev.timestamp, ev.parent_run_id, ev.trace_id, ev.conversation_id, ev.payload_text,
                     ev.timestamp if event_clock else stamp),
                )
            if cur.rowcount == 1:
                out.new += 1
                if ev.event_type not in SIDE_TABLE_TYPES:
                    new_by_run.setdefault(ev.run_id, []).append(ev)
            else:
                out.duplicate += 1
        for run_id, evs in new_by_run.items():
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            acc = _RunAcc({k: row[k] for k in _RUN_COLUMNS}) if row is not None else _RunAcc.fresh(evs[0])
            if row is None:
                acc.r["event_clock"] = 1 if event_clock else 0
            for ev in evs:
                acc.add(ev, ev.timestamp if event_clock else stamp)
            acc.r["last_write_at"] = stamp
            values = [acc.r[c] for c in _RUN_COLUMNS]
            if row is None:
                conn.execute(
                    f"INSERT INTO runs({','.join(_RUN_COLUMNS)}) VALUES ({','.join('?' * len(_RUN_COLUMNS))})",
                    values,
                )
            else:
                conn.execute(
                    f"UPDATE runs SET {','.join(c + '=?' for c in _RUN_MUTABLE)} WHERE run_id=?",
                    [acc.r[c] for c in _RUN_MUTABLE] + [run_id],
                )
            out.runs.add(run_id)
            if acc.r["needs_detection"]:
                out.ready_runs.add(run_id)
    return out


# ── JSONL reading ─────────────────────────────────────────────────────────────────────────────
@dataclass(slots=True)
class LineProblem:
    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


def _loki_to_event(obj: dict[str, Any]) -> dict[str, Any]:
    """Map an ``emit_as_json`` (Loki-style) line to the SDK event shape; its id is minted from the line."""
    out = {k: v for k, v in obj.items() if k not in ("ts", "level", "logger")}
    ts = obj.get("ts")
    if isinstance(ts, str):
        try:
            out["timestamp"] = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise ValidationFailed([_err("datetime_parsing", ("ts",), "ts is not an RFC 3339 time", ts)]) from None
    if "event_id" not in out:
        out["event_id"] = canonical_event_id(obj)
    return out


def parse_line(text: str, *, now: float | None = None) -> list[Event]:
    """Events carried by one JSONL line: an SDK event, an ``emit_as_json`` line, or an ingest body."""
    try:
        obj = loads_strict(text)
    except RecursionError:
        raise ValidationFailed([_err("json_invalid", (), "JSON nested too deeply", None)]) from None
    except ValueError as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        col = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ValidationFailed([_err("json_invalid", (), f"invalid JSON ({msg}{col})", None)]) from None
    if not isinstance(obj, dict):
        raise ValidationFailed([_err("model_attributes_type", (), "expected a JSON object (one event per line)", obj)])
    if "event_type" not in obj and isinstance(obj.get("events"), list):
        events = obj["events"]
        if len(events) == 0:
            return []
        out: list[Event] = []
        stamp = time.time() if now is None else now
        for i, raw in enumerate(events):
            out.append(normalize_event(raw, ("events", i), now=stamp))
        return out
    if "ts" in obj and "timestamp" not in obj and obj.get("logger") == "dunetrace":
        obj = _loki_to_event(obj)
    return [normalize_event(obj, (), now=now)]


class _CountingReader(io.RawIOBase):
    """Wraps a binary stream and counts the bytes read (for progress on compressed input)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.inner.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        return n


@dataclass
class OpenedSource:
    name: str
    stream: IO[bytes]
    counter: _CountingReader
    total_bytes: int | None
    close: Any


def open_source(spec: str) -> OpenedSource:
    """Open ``-`` (stdin) or a path, transparently gunzipping gzip data (by magic bytes)."""
    if spec == "-":
        raw: IO[bytes] = sys.stdin.buffer
        name = "<stdin>"
        total = None
        closer = None
    else:
        path = Path(spec)
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller via .close
        name = spec
        try:
            total = path.stat().st_size
        except OSError:
            total = None
        closer = raw.close
    counter = _CountingReader(raw)
    buffered = io.BufferedReader(counter, buffer_size=1 << 16)
    head = buffered.peek(2)[:2]
    stream: IO[bytes]
    if head == b"\x1f\x8b":  # by content, not by name
        stream = gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[assignment]
        stream = io.BufferedReader(stream, buffer_size=1 << 16)  # type: ignore[arg-type]
    else:
        stream = buffered

    def close() -> None:
        if closer is not None:
            closer()

    return OpenedSource(name=name, stream=stream, counter=counter, total_bytes=total, close=close)


def iter_lines(src: OpenedSource) -> Iterator[tuple[int, str | LineProblem]]:
    """(line number, text) for each non-blank line, or a LineProblem for an unreadable one. Flat memory."""
    lineno = 0
    stream = src.stream
    while True:
        try:
            chunk = stream.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            lineno += 1
            yield lineno, LineProblem(src.name, lineno, f"cannot read further ({exc}); the rest of the input is skipped")
            return
        if not chunk:
            return
        lineno += 1
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            # Too long: skip to the end of this line without holding it.
            while True:
                more = stream.readline(MAX_LINE_BYTES)
                if not more or more.endswith(b"\n"):
                    break
            yield lineno, LineProblem(src.name, lineno, f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")
            continue
        if lineno == 1 and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield lineno, LineProblem(src.name, lineno, f"not valid UTF-8 (byte {exc.start + 1})")
            continue
        if not text.strip():
            continue
        yield lineno, text
