"""Reading JSON Lines sources: files, stdin, gzip by content; one SDK event, an ``emit_as_json`` line or an
ingest body per line; bad lines reported with their number, never fatal. Memory stays flat.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dunetrace_cli.local.ingest.event import MAX_LINE_BYTES, Event, canonical_event_id, loads_strict
from dunetrace_cli.local.ingest.validate import ValidationFailed, _err, _fast_event, normalize_event, pick_fast


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


#: The keys of the SDK's own event line (``AgentEvent.to_dict()``).
_SDK_KEYS = frozenset(
    "event_type run_id agent_id agent_version step_index timestamp payload parent_run_id trace_id "
    "conversation_id event_id".split()
)
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # numbers as plain floats: the fast path below checks them itself


def _sdk_line(text: str) -> Event | None:
    """The SDK's own event line, well formed, in one pass; None when any rule needs the full path.

    Parsed without the strict number hooks: exactly the SDK's keys, each checked by ``_fast_event``
    (a finite timestamp, an int step, string ids, a payload that encodes without NaN/Infinity), so a
    line this accepts is one the strict parse accepts, giving the same event.
    """
    if text[:1] != "{" or "\\ud" in text or "\\uD" in text:
        return None
    try:
        obj, end = _SCAN(text, 0)
    except (ValueError, StopIteration, RecursionError):
        return None
    if end != len(text) and text[end:] not in ("\n", "\r\n"):
        return None
    if type(obj) is not dict or len(obj) != 11 or obj.keys() != _SDK_KEYS:
        return None
    return _fast_event(obj, pick_fast(obj))


def parse_line(text: str, *, now: float | None = None) -> list[Event]:
    """Events carried by one JSONL line: an SDK event, an ``emit_as_json`` line, or an ingest body."""
    fast = _sdk_line(text)
    if fast is not None:
        return [fast]
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
    plain = "\\ud" not in text and "\\uD" not in text  # no escape that can make a lone surrogate
    if "event_type" not in obj and isinstance(obj.get("events"), list):
        events = obj["events"]
        if len(events) == 0:
            return []
        out: list[Event] = []
        stamp = time.time() if now is None else now
        for i, raw in enumerate(events):
            out.append(normalize_event(raw, ("events", i), now=stamp, no_surrogates=plain))
        return out
    if "ts" in obj and "timestamp" not in obj and obj.get("logger") == "dunetrace":
        obj = _loki_to_event(obj)
    return [normalize_event(obj, (), now=now, no_surrogates=plain)]


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
        stream = io.BufferedReader(stream, buffer_size=1 << 16)  # type: ignore[arg-type,type-var]
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
        if not text or text.isspace():  # blank: no stripped copy made
            continue
        yield lineno, text
