"""What one HTTP exchange came to, and the one mapping from it to a typed error sentence.

:mod:`dunetrace_cli.client` fills a :class:`Reply` per attempt (a response, or how it failed) and
:func:`map_reply` turns the last one into the parsed JSON body or a :mod:`dunetrace_cli.errors` error.
Every sentence names the URL with its userinfo masked, says what happened and what to do next.
"""

from __future__ import annotations

import email.utils
import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import httpx

from dunetrace_cli.errors import (
    ApiUnavailable,
    AuthError,
    ConfigError,
    DunetraceError,
    NotFound,
    UsageError,
)


@dataclass(frozen=True)
class Service:
    """Which API a client talks to: its name, the setting that holds its URL and the one for its key."""

    name: str
    url_setting: str
    key_hint: str
    port: int
    unreachable_hint: str = ""


CUSTOMER_API = Service(
    name="Dunetrace Customer API",
    url_setting="DUNETRACE_API_URL",
    key_hint="Set DUNETRACE_API_KEY or store one with `dunetrace config set api_key -` (reads stdin)",
    port=8002,
    unreachable_hint=(
        "Is the backend running (docker compose up -d)? Point DUNETRACE_API_URL elsewhere or run "
        "`dunetrace config set api_url ...`."
    ),
)
INGEST_API = Service(
    name="Dunetrace ingest API",
    url_setting="--to",
    key_hint="Put the ingest key in the variable named by --api-key-env",
    port=8001,
    unreachable_hint="Check --to and that the Dunetrace ingest service is running.",
)


class TooLarge(Exception):
    """Raised inside the client when a body passes the response-size limit."""


@dataclass
class Reply:
    """The outcome of one attempt. ``kind`` is "response" or how the exchange failed."""

    kind: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    location: str | None = None  # set for a 3xx: where it points (the client never follows)
    received: int = 0  # body bytes read
    detail: str = ""  # the transport's own words, for the rare unclassified failure
    by_command: bool = False  # a timeout: the command deadline, not the request's, ran out
    retry_after: float | None = None  # a 429: the wait the server asked for, in seconds
    wait_beyond_deadline: float | None = None  # the next wait did not fit in the deadline

    @classmethod
    def timed_out(cls, *, by_command: bool) -> Reply:
        return cls(kind="timeout", by_command=by_command)

    @classmethod
    def from_exception(cls, exc: httpx.HTTPError, *, headers_seen: bool, received: int) -> Reply:
        return cls(kind=_classify(exc, headers_seen), received=received, detail=exc.__class__.__name__)


def _classify(exc: httpx.HTTPError, headers_seen: bool) -> str:
    if isinstance(exc, httpx.ConnectError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLError) or "SSL" in str(exc):
            return "tls"
        return "connect"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        if headers_seen:
            return "dropped"
        if isinstance(exc, httpx.RemoteProtocolError) and "without sending a response" not in str(exc):
            return "not_http"
        return "disconnected"
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return "bad_url"
    return "other"


@dataclass(frozen=True)
class RequestContext:
    display_url: str  # the base URL, userinfo masked
    url: str  # base + path, userinfo masked
    path: str
    service: Service
    timeout: float
    command_deadline: float
    request_count: int
    route_missing: Callable[[], NotFound]
    max_bytes: int = 16 * 1024 * 1024  # the response-size limit
    write: bool = False  # a change (POST/PATCH/...): say whether it may have been applied


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from ``now`` (wall clock): delta-seconds or an HTTP date; None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def human_delay(seconds: float) -> str:
    """``3600`` -> "60 min", ``7`` -> "7 s", ``172800`` -> "48 h"."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600)} h"


def _size(n: int) -> str:
    return f"{n / 1048576:g} MiB" if n >= 1048576 else f"{n:,} bytes"


def _printable(text: str) -> str:
    """Server-chosen text (a redirect target) with control and bidi characters made visible."""
    from dunetrace_cli.config import redact_url

    out = []
    for ch in text[:300]:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0 or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
            out.append(f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}")
        else:
            out.append(ch)
    return redact_url("".join(out))


def _detail_text(detail: Any) -> str:
    """Render FastAPI's ``detail`` (a string, or a list of pydantic errors) as one phrase."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p not in ("query", "path", "body"))
                msg = str(item.get("msg", "invalid value"))
                parts.append(f"{loc}: {msg}" if loc else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts) or "invalid request"
    if detail is None:
        return ""
    return json.dumps(detail)[:300]


def map_reply(reply: Reply, ctx: RequestContext) -> Any:
    """The parsed JSON body of a 2xx reply; otherwise raise the one typed error for what happened."""
    if reply.kind != "response":
        raise _transport_error(reply, ctx)
    if reply.location is not None:
        raise _redirect_error(reply, ctx)
    status = reply.status or 0
    body: Any = None
    parsed = True
    try:
        body = json.loads(reply.body) if reply.body else None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        parsed = False
    if 200 <= status < 300:
        ctype = reply.headers.get("content-type", "application/json")
        if not parsed or body is None or "json" not in ctype.lower():
            what = f"{_printable(ctype.split(';')[0].strip())}, not JSON" if "json" not in ctype.lower() else "not JSON"
            raise ApiUnavailable(
                f"The {ctx.service.name} returned a malformed response for {ctx.url} ({what}). "
                f"Is {ctx.service.url_setting} pointing at the {ctx.service.name} (port {ctx.service.port})?"
            )
        return body
    detail = _printable(_detail_text(body.get("detail"))) if isinstance(body, dict) else ""
    raise _status_error(status, detail, reply, ctx)


def _status_error(status: int, detail: str, reply: Reply, ctx: RequestContext) -> DunetraceError:
    base = ctx.display_url
    if status in (401, 403):
        return AuthError(
            f"The Dunetrace API at {base} rejected the API key (HTTP {status}"
            f"{': ' + detail if detail else ''}). {ctx.service.key_hint}."
        )
    if status == 404:
        if detail in ("Not Found", ""):
            return ctx.route_missing()
        return NotFound(f"{detail.rstrip('.')}.")
    if status == 422:
        return UsageError(f"The Dunetrace API rejected the request: {detail or 'invalid parameters'}.")
    if status == 413:
        return UsageError(f"The Dunetrace API at {base} refused the request as too large (HTTP 413). Send less at once.")
    if status == 429:
        asked = reply.wait_beyond_deadline if reply.wait_beyond_deadline is not None else reply.retry_after
        if asked is not None and reply.wait_beyond_deadline is not None:
            return ApiUnavailable(
                f"rate limited; the server asks to retry in {human_delay(asked)} (HTTP 429 from {base}), "
                f"beyond this request's {ctx.timeout:g}s limit. Wait, then try again."
            )
        wait = f"; the server asks to retry in {human_delay(asked)}" if asked is not None else ""
        return ApiUnavailable(
            f"The Dunetrace API at {base} is rate limiting requests (HTTP 429, 3 tries){wait}. Wait a moment and retry."
        )
    if status == 501:  # a route the server has but cannot honour (e.g. a write against the local store)
        return UsageError(f"The Dunetrace API at {base} cannot do that (HTTP 501){': ' + detail if detail else '.'}")
    if status >= 500:
        return ApiUnavailable(
            f"The Dunetrace API at {base} failed with HTTP {status}"
            f"{' (' + detail + ')' if detail else ''}. Check the backend's logs and retry."
        )
    return UsageError(
        f"The Dunetrace API answered HTTP {status} for {ctx.url}{': ' + detail if detail else ''}. "
        "Check the command's arguments."
    )


def _redirect_error(reply: Reply, ctx: RequestContext) -> DunetraceError:
    target = _printable(reply.location or "") or "an unnamed location (no Location header)"
    try:
        same_host = bool(reply.location) and httpx.URL(reply.location or "").host == httpx.URL(ctx.url).host
    except (httpx.InvalidURL, TypeError):
        same_host = False
    where = "on the same host" if same_host else "on another host"
    return ConfigError(
        f"{ctx.url} redirects (HTTP {reply.status}) to {target} ({where}); redirects are not followed, "
        f"so the API key was not sent there. If that is the right server, point {ctx.service.url_setting} at it."
    )


def _transport_error(reply: Reply, ctx: RequestContext) -> DunetraceError:
    error = _transport_error_for_read(reply, ctx)
    if ctx.write and reply.kind in ("timeout", "dropped", "disconnected", "other"):
        error.message = error.message.rstrip(".") + (
            "; the change may or may not have been applied: check with a read command before retrying."
        )
    elif ctx.write and reply.kind in ("connect", "tls", "not_http", "bad_url"):
        error.message += " Nothing was changed."
    return error


def _transport_error_for_read(reply: Reply, ctx: RequestContext) -> DunetraceError:
    name, base = ctx.service.name, ctx.display_url
    if reply.kind == "timeout":
        if reply.by_command:
            return ApiUnavailable(
                f"the command did not finish within {ctx.command_deadline:g}s ({ctx.request_count} requests to "
                f"{base}; the limit is 4 x the {ctx.timeout:g}s request timeout). Ask for less, or raise "
                "--timeout / DUNETRACE_TIMEOUT."
            )
        partial = f" ({reply.received} bytes of the answer had arrived)" if reply.received else ""
        return ApiUnavailable(
            f"{name} at {base} did not answer within {ctx.timeout:g}s{partial}. The limit covers connecting and "
            "reading the whole response: retry, raise it with --timeout or DUNETRACE_TIMEOUT, or check the backend's health."
        )
    if reply.kind == "too_large":
        return ApiUnavailable(
            f"the response for {ctx.url} is larger than the {_size(ctx.max_bytes)} response-size limit, so reading stopped. "
            f"Ask for less (a smaller --limit) or check that {ctx.service.url_setting} points at the {name}."
        )
    if reply.kind == "dropped":
        return ApiUnavailable(
            f"the connection to {base} dropped mid-response ({reply.received} bytes of {ctx.path} arrived, "
            "3 tries). Retry; if it keeps happening, check the backend's logs or a proxy in between."
        )
    if reply.kind == "disconnected":
        return ApiUnavailable(
            f"{base} closed the connection without answering (3 tries). Check that the {name} is healthy and retry."
        )
    if reply.kind == "not_http":
        return ApiUnavailable(
            f"{base} answered with something that is not HTTP. Check {ctx.service.url_setting}: the scheme "
            f"(http:// or https://) and the port of the {name} ({ctx.service.port})."
        )
    if reply.kind == "tls":
        return ApiUnavailable(
            f"the TLS handshake with {base} failed. If that server speaks plain HTTP, use an http:// URL in "
            f"{ctx.service.url_setting}; otherwise check its certificate."
        )
    if reply.kind == "connect":
        return ApiUnavailable(f"{name} unreachable at {base}. {ctx.service.unreachable_hint}")
    if reply.kind == "bad_url":
        return ConfigError(f"{base} is not a URL the CLI can request. Fix {ctx.service.url_setting}.")
    return ApiUnavailable(
        f"request to the {name} at {base} failed ({reply.detail}). Check {ctx.service.url_setting} and retry."
    )
