"""The only place that speaks HTTP to a Dunetrace API (the Customer API, and ingest for `local export`).

One ``httpx.AsyncClient`` per process invocation (connection reuse), the bearer key, a User-Agent and:

- **deadlines**: each request (connect, every read, its retries and waits) gets ``--timeout`` seconds
  in all, and a command (or an MCP tool call) ``Settings.command_deadline`` in all;
- **one response-size limit** (:data:`MAX_RESPONSE_BYTES`): bodies are streamed and reading stops there;
- **retries** (at most 3 attempts, inside the deadline): connect errors, a connection dropped
  mid-response, 502/503/504, and 429 honouring Retry-After (seconds or an HTTP date; a wait beyond the
  deadline stops at once);
- **no redirects**: a 3xx names its target and the key is never sent anywhere but the configured host;
- bounded fan-out concurrency, per-process endpoint detection (a 404 on a *route*, not on an id);
- a single mapping from every failure to a typed :mod:`dunetrace_cli.errors` error (:mod:`dunetrace_cli.http_errors`).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import Any, Self

import anyio
import httpx

from dunetrace_cli import __version__
from dunetrace_cli.config import Settings
from dunetrace_cli.errors import DunetraceError, NotFound
from dunetrace_cli.http_errors import (
    CUSTOMER_API,
    Reply,
    RequestContext,
    Service,
    TooLarge,
    map_reply,
    retry_after_seconds,
)
from dunetrace_cli.shared_reads import SharedReads

RETRY_STATUSES = {502, 503, 504}
MAX_ATTEMPTS = 3
#: The one response-size limit: no Customer API page comes near it; reading stops there.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
LOCAL_BASE_URL = "http://dunetrace.local"

# Endpoint availability, detected once per process per API base URL.
_FEATURES: dict[tuple[str, str], bool] = {}
# Slow-changing lists (the agent list), shared by every client of the process for MEMO_TTL seconds:
# one CLI command fetches them once; a long-lived MCP server refreshes them every MEMO_TTL.
# Concurrent callers wait for one fetch (the single flight of shared_reads.SharedReads).
MEMO_TTL = 30.0
_MEMO = SharedReads(MEMO_TTL, max_entries=256)
# The command deadline (monotonic seconds) of the command or MCP tool call running in this context.
_COMMAND_DEADLINE: ContextVar[float | None] = ContextVar("dunetrace_command_deadline", default=None)


class RouteMissing(NotFound):
    """The server has no such route (an older server generation, or not the Customer API)."""

    def __init__(self, base_url: str, path: str, service: Service = CUSTOMER_API) -> None:
        super().__init__(
            f"The API at {base_url} has no route {path} (HTTP 404). "
            f"Is {service.url_setting} pointing at the {service.name} (port {service.port})?"
        )
        self.path = path


def reset_feature_cache() -> None:
    """Forget every per-process memo: detected routes and cached lists (tests, benchmarks)."""
    global _MEMO
    _FEATURES.clear()
    _MEMO = SharedReads(MEMO_TTL, max_entries=256)  # kept lists and fetches in flight alike


class ApiClient:
    """Async client for a Dunetrace API. Use as ``async with ApiClient(settings) as client``.

    The command deadline starts when the client is made. A long-lived client shared by several
    commands or tool calls gives each one a ``copy.copy(client)`` (a view with its own deadline) or
    wraps it in ``with client.command_scope():``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_concurrency: int = 8,
        backoff: float = 0.25,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        service: Service = CUSTOMER_API,
        command_deadline: bool = True,
        shared_reads_ttl: float = 0.0,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.service = service
        self.max_response_bytes = max_response_bytes
        self._sleep = sleep
        self._monotonic = monotonic
        self._wallclock = wallclock  # Retry-After dates are wall-clock times, never the pinned `clock`
        self._backoff = backoff
        self._semaphore = asyncio.Semaphore(max_concurrency)
        # False for commands that are long by design (an export, a follow loop): each request keeps
        # its own deadline, and ``command_scope()`` can still bound a unit of work.
        self._has_deadline = command_deadline
        self._deadline = monotonic() + settings.command_deadline if command_deadline else float("inf")
        self.request_count = 0
        # A long-lived client (mcp serve) shares identical GETs between its calls for a few seconds.
        self.shared_reads = SharedReads(shared_reads_ttl) if shared_reads_ttl > 0 else None
        # Progress for slow server work (an issue's LLM explain): the CLI writes it to stderr,
        # the MCP server sends it as a progress notification. Queries call ``client.progress(text)``.
        self.progress: Callable[[str], None] = lambda text: None
        if settings.is_local and transport is None:
            transport = _local_transport(settings.api_url)
        self.base_url = LOCAL_BASE_URL if settings.is_local else settings.api_url.rstrip("/")
        self.display_url = "the local store" if settings.is_local else settings.display_url
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(settings.timeout),
            headers=_headers(settings.api_key),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            verify=_tls_for(self.base_url),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def now(self) -> float:
        return self.clock()

    def __copy__(self) -> ApiClient:
        """A view for one more command or tool call: shared pool, bound and memos; its own deadline."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        if self._has_deadline:
            view._deadline = self._monotonic() + self.settings.command_deadline
        return view

    @contextlib.contextmanager
    def command_scope(self, seconds: float | None = None) -> Iterator[None]:
        """One command or tool call: its own deadline (default ``settings.command_deadline``)."""
        limit = self.settings.command_deadline if seconds is None else seconds
        token = _COMMAND_DEADLINE.set(self._monotonic() + limit)
        try:
            yield
        finally:
            _COMMAND_DEADLINE.reset(token)

    # ------------------------------------------------------------ requests

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` and return the parsed JSON body, or raise a typed error.

        With ``shared_reads_ttl`` the body may be shared with other calls: treat it as read-only.
        """
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        reads = self.shared_reads
        if reads is None:
            return await self.request("GET", path, params=clean)
        return await reads.get(reads.key(path, clean), lambda: self.request("GET", path, params=clean))

    async def post(self, path: str, content: bytes, headers: dict[str, str] | None = None) -> Any:
        """POST ``content`` (JSON bytes) to an idempotent route (ingest de-duplicates by event id)."""
        extra = {"Content-Type": "application/json", **(headers or {})}
        return await self.request("POST", path, content=content, headers=extra)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        async with self._semaphore:
            reply = await self._send(method, path, params or {}, content, headers)
        return map_reply(reply, self._context(path))

    async def get_text(self, path: str, params: dict[str, Any] | None = None) -> str:
        """GET a body that is not one JSON document (the signal export's NDJSON or CSV); errors as get()."""
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        async with self._semaphore:
            reply = await self._send("GET", path, clean, None, None)
        if reply.kind == "response" and reply.location is None and 200 <= (reply.status or 0) < 300:
            return reply.body.decode(_charset(reply.headers.get("content-type", "")), errors="replace")
        map_reply(reply, self._context(path))  # raises the typed error for what happened
        raise AssertionError("map_reply returns only for a 2xx response")  # pragma: no cover

    async def send(self, method: str, path: str, body: Any = None) -> Any:
        """A write (POST/PATCH/PUT/DELETE) with a JSON body; the parsed answer (None for 204).

        Never retried once the request may have reached the server: only a failed connect (and a 429,
        which the server refused before doing anything) is retried.
        """
        content = None
        headers = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
            headers = {"Content-Type": "application/json"}
        async with self._semaphore:
            reply = await self._send(method, path, {}, content, headers, write=True)
        if self.shared_reads is not None:
            self.shared_reads.clear()  # what was read before a write may have changed
        if reply.kind == "response" and reply.location is None and 200 <= (reply.status or 0) < 300 and not reply.body:
            return None
        return map_reply(reply, self._context(path, write=True))

    async def get_feature(self, feature: str, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """GET a route that older servers lack. Returns None (and remembers) when the route is absent."""
        key = self._feature_key(feature)
        if _FEATURES.get(key) is False:
            return None
        try:
            body = await self.get(path, params)
        except RouteMissing:
            _FEATURES[key] = False
            return None
        _FEATURES[key] = True
        return body

    def remember_feature(self, feature: str, present: bool) -> None:
        """Record what a probe found out (e.g. whether the server honours a query parameter)."""
        _FEATURES[self._feature_key(feature)] = present

    def feature_known_missing(self, feature: str) -> bool:
        return _FEATURES.get(self._feature_key(feature)) is False

    async def has_route(self, feature: str, path: str) -> bool:
        """Whether the server has the list route ``path``: remembered, else probed once with ``limit=1``."""
        known = _FEATURES.get(self._feature_key(feature))
        if known is not None:
            return known
        return await self.get_feature(feature, path, {"limit": 1, "offset": 0}) is not None

    def _feature_key(self, feature: str) -> tuple[str, str]:
        return (self.base_url if not self.settings.is_local else self.settings.api_url, feature)

    async def memo(self, name: str, fetch: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """``fetch()``'s result, shared for ``MEMO_TTL`` seconds by every client of this process that talks
        to the same API with the same key; concurrent callers wait for one fetch instead of each making it."""
        key = (*self._feature_key(name), hashlib.sha256(self.settings.api_key.encode()).hexdigest()[:16])
        return await _MEMO.get(key, fetch)

    def _context(self, path: str, *, write: bool = False) -> RequestContext:

        url = f"{self.display_url.rstrip('/')}{path}" if not self.settings.is_local else f"local store {path}"
        return RequestContext(
            display_url=self.display_url,
            url=url,
            path=path,
            service=self.service,
            timeout=self.settings.timeout,
            command_deadline=self.settings.command_deadline,
            request_count=self.request_count,
            route_missing=lambda: RouteMissing(self.display_url, path, self.service),
            max_bytes=self.max_response_bytes,
            write=write,
        )

    # ------------------------------------------------------------ one request, its retries, its deadline

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        content: bytes | None,
        headers: dict[str, str] | None,
        *,
        write: bool = False,
    ) -> Reply:
        command_end = _COMMAND_DEADLINE.get() or self._deadline
        end = min(self._monotonic() + self.settings.timeout, command_end)
        by_command = end == command_end
        attempt = 0
        while True:
            attempt += 1
            self.request_count += 1
            remaining = end - self._monotonic()
            if remaining <= 0:
                return Reply.timed_out(by_command=by_command)
            reply = await self._attempt(method, path, params, content, headers, remaining)
            if reply.kind == "timeout":
                reply.by_command = by_command
                return reply
            delay = self._retry_delay(reply, attempt, write=write)
            if delay is None:
                return reply
            if delay > end - self._monotonic():
                reply.wait_beyond_deadline = delay
                return reply
            await self._sleep(delay)

    def _retry_delay(self, reply: Reply, attempt: int, *, write: bool = False) -> float | None:
        """Seconds to wait before trying again, or None when ``reply`` is the answer.

        A write is retried only when it cannot have reached the server (a failed connect, a 429).
        """
        backoff = self._backoff * 2 ** (attempt - 1)
        if reply.kind in (("connect",) if write else ("connect", "dropped", "disconnected")):
            return backoff if attempt < MAX_ATTEMPTS else None
        if reply.kind != "response":
            return None
        if reply.status == 429:
            asked = retry_after_seconds(reply.headers.get("retry-after"), self._wallclock())
            reply.retry_after = asked
            if attempt >= MAX_ATTEMPTS:
                return None
            return backoff if asked is None else asked
        if reply.status in RETRY_STATUSES and attempt < MAX_ATTEMPTS and not write:
            return backoff
        return None

    async def _attempt(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        content: bytes | None,
        headers: dict[str, str] | None,
        budget: float,
    ) -> Reply:
        """One attempt, bounded by ``budget`` seconds in all (connect and every read)."""
        reply = Reply(kind="response")
        try:
            with anyio.fail_after(budget):
                request = self._http.build_request(method, path, params=params, content=content, headers=headers)
                response = await self._http.send(request, stream=True)
                try:
                    reply.status = response.status_code
                    reply.headers = response.headers
                    reply.location = _redirect_target(response)
                    if reply.location is None:
                        reply.body = await self._read_limited(response, reply)
                finally:
                    await response.aclose()
        except TimeoutError:
            return Reply(kind="timeout", received=reply.received)
        except httpx.TimeoutException:
            return Reply(kind="timeout", received=reply.received)
        except TooLarge:
            return Reply(kind="too_large", status=reply.status, received=reply.received)
        except httpx.HTTPError as exc:
            return Reply.from_exception(exc, headers_seen=reply.status is not None, received=reply.received)
        return reply

    async def _read_limited(self, response: httpx.Response, reply: Reply) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise TooLarge
        chunks: list[bytes] = []
        async for chunk in response.aiter_bytes():
            reply.received += len(chunk)
            if reply.received > self.max_response_bytes:
                raise TooLarge
            chunks.append(chunk)
        return b"".join(chunks)


def _headers(api_key: str) -> dict[str, str]:
    headers = {"User-Agent": f"dunetrace-cli/{__version__} (+httpx)", "Accept": "application/json"}
    if api_key:  # no key (an export to a dev-mode ingest): no empty bearer
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _redirect_target(response: httpx.Response) -> str | None:
    if not 300 <= response.status_code < 400:
        return None
    location = response.headers.get("location", "")
    try:
        return str(response.request.url.join(location)) if location else ""
    except httpx.InvalidURL:
        return location


def _tls_for(base_url: str) -> ssl.SSLContext | bool:
    """TLS verification for the client: the CA bundle for https (httpx's default, verified).

    A plain-http API (and the in-process store) never does TLS: a context that trusts no CA skips
    loading the bundle (tens of ms at every start) and could not verify any https peer either.
    """
    if base_url.lower().startswith("https://"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value.strip().strip('"'):
            try:
                return codecs.lookup(value.strip().strip('"')).name
            except LookupError:
                break
    return "utf-8"


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _local_transport(api_url: str) -> httpx.AsyncBaseTransport:
    """An in-process ASGI transport into the embedded store's Customer API."""
    try:
        from dunetrace_cli.local.api import create_api_app
        from dunetrace_cli.local.paths import resolve_db_path
    except ImportError as exc:  # pragma: no cover - the local store ships with the package
        raise DunetraceError(f"the embedded local store is not available in this installation ({exc}).") from exc
    db_path = resolve_db_path(api_url)
    return httpx.ASGITransport(app=create_api_app(db_path, raise_store_errors=True))
