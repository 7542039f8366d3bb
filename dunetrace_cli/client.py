"""The only place that speaks HTTP to the Dunetrace Customer API.

One ``httpx.AsyncClient`` per process invocation (connection reuse), the bearer key,
a User-Agent, a timeout, retries with backoff (connect errors, 429 honouring
Retry-After, 502/503/504 on GETs, at most 3 attempts), bounded fan-out concurrency,
per-process endpoint detection (a 404 on a *route*, not on an id), and a single
mapping from every failure to a typed :mod:`dunetrace_cli.errors` error.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx

from dunetrace_cli import __version__
from dunetrace_cli.config import Settings
from dunetrace_cli.errors import (
    ApiUnavailable,
    AuthError,
    DunetraceError,
    NotFound,
    UsageError,
)

RETRY_STATUSES = {502, 503, 504}
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER = 30.0
LOCAL_BASE_URL = "http://dunetrace.local"

# Endpoint availability, detected once per process per API base URL.
_FEATURES: dict[tuple[str, str], bool] = {}
# Slow-changing lists (the agent list), shared by every client of the process for MEMO_TTL seconds:
# one CLI command fetches them once; a long-lived MCP server refreshes them every MEMO_TTL.
MEMO_TTL = 30.0
_MEMO: dict[tuple[str, ...], tuple[float, Any]] = {}
_PENDING: dict[tuple[str, ...], asyncio.Task[Any]] = {}


class RouteMissing(NotFound):
    """The server has no such route (an older server generation, or not the Customer API)."""

    def __init__(self, base_url: str, path: str) -> None:
        super().__init__(
            f"The API at {base_url} has no route {path} (HTTP 404). "
            "Is DUNETRACE_API_URL pointing at the Dunetrace Customer API (port 8002)?"
        )
        self.path = path


def reset_feature_cache() -> None:
    """Forget every per-process memo: detected routes and cached lists (tests, benchmarks)."""
    _FEATURES.clear()
    _MEMO.clear()
    _PENDING.clear()


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


def _retry_after(response: httpx.Response, fallback: float) -> float:
    value = response.headers.get("retry-after")
    if value is None:
        return fallback
    try:
        return max(0.0, min(float(value), MAX_RETRY_AFTER))
    except ValueError:
        return fallback


class ApiClient:
    """Async client for the Customer API. Use as ``async with ApiClient(settings) as client``."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_concurrency: int = 8,
        backoff: float = 0.25,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._sleep = sleep
        self._backoff = backoff
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self.request_count = 0
        # Progress for slow server work (an issue's LLM explain): the CLI writes it to stderr,
        # the MCP server sends it as a progress notification. Queries call ``client.progress(text)``.
        self.progress: Callable[[str], None] = lambda text: None
        if settings.is_local and transport is None:
            transport = _local_transport(settings.api_url)
        self.base_url = LOCAL_BASE_URL if settings.is_local else settings.api_url.rstrip("/")
        self.display_url = settings.api_url
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(settings.timeout),
            headers={
                "Authorization": f"Bearer {settings.api_key}",
                "User-Agent": f"dunetrace-cli/{__version__} (+httpx)",
                "Accept": "application/json",
            },
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            verify=_tls_for(self.base_url),
        )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def now(self) -> float:
        return self.clock()

    # ------------------------------------------------------------ requests

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` and return the parsed JSON body, or raise a typed error."""
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        async with self._semaphore:
            response = await self._send(path, clean)
        return self._parse(response, path)

    async def get_text(self, path: str, params: dict[str, Any] | None = None) -> str:
        """GET a body that is not one JSON document (the signal export's NDJSON or CSV); errors as get()."""
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        async with self._semaphore:
            response = await self._send(path, clean)
        if 200 <= response.status_code < 300:
            return response.text
        self._parse(response, path)  # raises the typed error for the status
        raise ApiUnavailable(f"unexpected HTTP {response.status_code} for {path}.")  # pragma: no cover

    async def send(self, method: str, path: str, body: Any = None) -> Any:
        """A write (POST/PATCH/PUT/DELETE) with a JSON body; the parsed answer (None for 204).

        Never retried once the request may have reached the server: only a failed connect is retried.
        """
        attempt = 0
        async with self._semaphore:
            while True:
                attempt += 1
                self.request_count += 1
                try:
                    response = await self._http.request(method, path, json=body)
                    break
                except httpx.ConnectError as exc:
                    if attempt < MAX_ATTEMPTS:
                        await self._sleep(self._backoff * 2 ** (attempt - 1))
                        continue
                    raise ApiUnavailable(
                        f"Dunetrace Customer API unreachable at {self.display_url}. Is the backend running "
                        "(docker compose up -d)? Nothing was changed."
                    ) from exc
                except httpx.TimeoutException as exc:
                    raise ApiUnavailable(
                        f"Dunetrace Customer API at {self.display_url} did not answer within "
                        f"{self.settings.timeout:g}s; the change may or may not have been applied. "
                        "Check with a read command before retrying, or raise --timeout."
                    ) from exc
                except httpx.HTTPError as exc:
                    raise ApiUnavailable(
                        f"request to the Dunetrace Customer API at {self.display_url} failed "
                        f"({exc.__class__.__name__}); the change may or may not have been applied."
                    ) from exc
        if response.status_code == 204 or not response.content:
            if 200 <= response.status_code < 300:
                return None
        return self._parse(response, path)

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

    async def memo(self, name: str, fetch: Callable[[], Coroutine[Any, Any, Any]], ttl: float | None = None) -> Any:
        """``fetch()``'s result, shared for ``ttl`` seconds by every client of this process that talks to
        the same API with the same key; concurrent callers wait for one fetch instead of each making it."""
        key = (*self._feature_key(name), hashlib.sha256(self.settings.api_key.encode()).hexdigest()[:16])
        hit = _MEMO.get(key)
        if hit is not None and time.monotonic() - hit[0] < (MEMO_TTL if ttl is None else ttl):
            return hit[1]
        loop = asyncio.get_running_loop()
        pending = _PENDING.get(key)
        if pending is None or pending.get_loop() is not loop:
            pending = loop.create_task(fetch())
            _PENDING[key] = pending
        try:
            value = await asyncio.shield(pending)
        finally:
            if pending.done() and _PENDING.get(key) is pending:
                del _PENDING[key]
        _MEMO[key] = (time.monotonic(), value)
        return value

    async def _send(self, path: str, params: dict[str, str]) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            self.request_count += 1
            try:
                response = await self._http.get(path, params=params)
            except httpx.TimeoutException as exc:
                raise ApiUnavailable(
                    f"Dunetrace Customer API at {self.display_url} did not answer within "
                    f"{self.settings.timeout:g}s. Retry, raise the limit with --timeout or DUNETRACE_TIMEOUT, "
                    "or check the backend's health."
                ) from exc
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                if attempt < MAX_ATTEMPTS:
                    await self._sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                raise ApiUnavailable(
                    f"Dunetrace Customer API unreachable at {self.display_url}. Is the backend running "
                    "(docker compose up -d)? Point DUNETRACE_API_URL elsewhere or run "
                    "`dunetrace config set api_url ...`."
                ) from exc
            except httpx.HTTPError as exc:
                raise ApiUnavailable(
                    f"request to the Dunetrace Customer API at {self.display_url} failed "
                    f"({exc.__class__.__name__}). Check DUNETRACE_API_URL and retry."
                ) from exc
            status = response.status_code
            if attempt < MAX_ATTEMPTS and (status == 429 or status in RETRY_STATUSES):
                delay = self._backoff * 2 ** (attempt - 1)
                if status == 429:
                    delay = _retry_after(response, delay)
                await self._sleep(delay)
                continue
            return response

    def _parse(self, response: httpx.Response, path: str) -> Any:
        status = response.status_code
        url = f"{self.display_url.rstrip('/')}{path}" if not self.settings.is_local else f"local store {path}"
        body: Any = None
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            if 200 <= status < 300:
                raise ApiUnavailable(
                    f"Dunetrace Customer API returned a malformed response for {url} (not JSON). "
                    "Is DUNETRACE_API_URL pointing at the Customer API (port 8002)?"
                ) from None
        detail = _detail_text(body.get("detail")) if isinstance(body, dict) else ""
        if 200 <= status < 300:
            return body
        if status in (401, 403):
            raise AuthError(
                f"The Dunetrace API at {self.display_url} rejected the API key (HTTP {status}"
                f"{': ' + detail if detail else ''}). Set DUNETRACE_API_KEY or run "
                "`dunetrace config set api_key ...`."
            )
        if status == 404:
            if detail in ("Not Found", ""):
                raise RouteMissing(self.display_url, path)
            raise NotFound(f"{detail.rstrip('.')}.")
        if status == 422:
            raise UsageError(f"The Dunetrace API rejected the request: {detail or 'invalid parameters'}.")
        if status == 429:
            raise ApiUnavailable(
                f"The Dunetrace API at {self.display_url} is rate limiting requests (HTTP 429). Wait a moment and retry."
            )
        if status >= 500:
            raise ApiUnavailable(
                f"The Dunetrace API at {self.display_url} failed with HTTP {status}"
                f"{' (' + detail + ')' if detail else ''}. Check the backend's logs and retry."
            )
        raise UsageError(
            f"The Dunetrace API answered HTTP {status} for {url}{': ' + detail if detail else ''}. "
            "Check the command's arguments."
        )


def _tls_for(base_url: str) -> ssl.SSLContext | bool:
    """TLS verification for the client: the CA bundle for https (httpx's default, verified).

    A plain-http API (and the in-process store) never does TLS: a context that trusts no CA skips
    loading the bundle (tens of ms at every start) and could not verify any https peer either.
    """
    if base_url.lower().startswith("https://"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


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

