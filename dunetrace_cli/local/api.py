"""The Customer API of the embedded local store, as an ASGI (Starlette) app.

``create_api_app(db_path)`` answers the latest-generation Dunetrace Customer API (customer-api.md §B)
from the local SQLite store: the same paths, query parameters, JSON shapes, paging, ordering,
validation errors (FastAPI's pydantic-v2 ``{"detail": [...]}`` list, or the server's string details)
and not-found behaviour as the real server. The CLI reaches it in-process through
``httpx.ASGITransport`` when ``DUNETRACE_API_URL=local``; ``dunetrace local serve`` serves it on
port 8002 so that other clients (the upstream ``dunetrace-mcp``, curl) work unchanged.

Routes (all GET):
    /health                               {"status", "version", "db"} (never authenticated)
    /v1/config                            {"github_configured": false}
    /v1/agents                            offset, limit
    /v1/agents/{agent_id}/runs            offset, limit, has_signals
    /v1/runs                              offset, limit, agent_id, has_signals, per_agent_limit,
                                          run_id_prefix (local addition: runs whose id starts with it)
    /v1/runs/{run_id}                     include_shadow            (404 unless the run was processed)
    /v1/agents/{agent_id}/signals         offset, limit, severity, failure_type, include_shadow, explain
    /v1/signals                           ... the same plus agent_id, per_agent_limit
    /v1/agents/{agent_id}/insights
    /v1/agents/{agent_id}/health-score
    /v1/agents/{agent_id}/token-stats
    /v1/agents/{agent_id}/issues, /v1/issues/search, /v1/issues/{id}, /v1/agents/{id}/failure-patterns/{type}
                                          (routes_issues.py)
    /v1/agents/{id}/fixes, /v1/signals/{id}/fix-status, /v1/policies, /v1/custom-detectors, /v1/calls,
    /v1/calls/{id}                        (routes_misc.py; writes answer 501 with a sentence)
Unknown paths answer 404 ``{"detail": "Not Found"}``, other methods 405 ``{"detail": "Method Not Allowed"}``.
Unknown query parameters are ignored, as FastAPI does.

Authentication: none. The store is a file on this machine, so the app behaves like the server in
``AUTH_MODE=dev``: any ``Authorization`` header (or none) is accepted and never read. Do not expose
``dunetrace local serve`` beyond localhost if the stored events are sensitive.

Explanations (``title``, ``what``, ``why_it_matters``, ``evidence_summary``, ``suggested_fixes``) are
produced at read time for every signal row by ``dunetrace_cli.knowledge.explain``, as the server does
with its explainer; ``explain=false`` empties the long-form fields but keeps every key.

All SQL lives in :mod:`dunetrace_cli.local.readqueries` and its ``readqueries_*`` siblings; endpoints
here are synchronous and run in Starlette's thread pool, each inside one read snapshot of the store.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from dunetrace_cli.errors import DunetraceError
from dunetrace_cli.local import readqueries as rq
from dunetrace_cli.local import readqueries_health as rh
from dunetrace_cli.local import readqueries_insights as ri
from dunetrace_cli.local import readqueries_tokens as rt
from dunetrace_cli.local.api_http import ApiJSONResponse, RequestValidationFailed, _Query
from dunetrace_cli.local.api_signals import _check_signal_filters, _with_explanation
from dunetrace_cli.local.paths import DEFAULT_STALL_SECONDS
from dunetrace_cli.local.store_errors import StoreError
from dunetrace_cli.local.store_http import store_error_response

#: What ``/health`` reports as ``version``: the server generation this app reproduces (the latest
#: server's default when APP_VERSION is unset).
API_VERSION = "0.5.0"

Clock = Callable[[], float]


# ---------------------------------------------------------------------------------------------
# store access (one small function, so the way the database is opened can change in one place)


def _open_store(db_path: Path) -> Any:
    from dunetrace_cli.local.store import open_store

    return open_store(db_path, create=False)  # a reader never creates a store


class _StoreHolder:
    """Opens the store on first use (in a worker thread), so building the app never touches the disk.

    With ``stall_seconds`` set, each read first runs the due stall sweep (runs silent that long are
    analysed as stalled, pending re-evaluations done): one index probe when nothing is due, at most
    once a second.
    """

    def __init__(self, db_path: Path, *, clock: Clock = time.time, stall_seconds: float | None = None) -> None:
        self.db_path = Path(db_path)
        self._store: Any = None
        self._lock = threading.Lock()
        self._clock = clock
        self._stall_seconds = stall_seconds
        self._checked = -1.0e18
        #: `local serve`: waits for the ingest batches answered before the read (the worker's ``wait_written``)
        self.before_read: Callable[[], None] | None = None

    def get(self) -> Any:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = _open_store(self.db_path)
        return self._store

    def sweep_due(self) -> None:
        if self._stall_seconds is None:
            return
        mono = time.monotonic()
        if mono - self._checked < 1.0:
            return
        self._checked = mono
        store = self.get()
        if store.readonly:  # answer from what is stored
            return
        now = self._clock()
        try:
            from dunetrace_cli.local.stall import has_due_work

            if not has_due_work(store.conn(), now=now, stall_seconds=self._stall_seconds):
                return
            from dunetrace_cli.local.detect import sweep

            sweep(store, stall_seconds=self._stall_seconds, now=lambda: now)
        except (sqlite3.Error, OSError, StoreError):  # e.g. locked or full: answer from what is stored
            return

    def read(self, fn: Callable[[Any], Any]) -> Any:
        if self.before_read is not None:
            self.before_read()
        self.sweep_due()
        with self.get().read() as conn:
            return fn(conn)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


# ---------------------------------------------------------------------------------------------
# responses


def create_api_app(
    db_path: Path,
    *,
    clock: Clock = time.time,
    version: str = API_VERSION,
    stall_seconds: float | None = DEFAULT_STALL_SECONDS,
    raise_store_errors: bool = False,
) -> Starlette:
    """The local Customer API over the store at ``db_path`` (which must exist: a reader never creates it).

    Store failures answer 503 with their sentence, or with ``raise_store_errors`` (in-process use) are
    raised as typed errors (:mod:`dunetrace_cli.local.store_http`).

    ``clock`` returns epoch seconds and is the "now" of every time window (health score, token
    stats, insights, sparklines) and of the stall sweep run before reads; tests pass a fixed one.
    ``stall_seconds=None`` turns the read-side stall sweep off.
    """
    holder = _StoreHolder(db_path, clock=clock, stall_seconds=stall_seconds)

    def read(fn: Callable[[Any], Any]) -> Any:
        return holder.read(fn)

    def health(request: Request) -> ApiJSONResponse:
        try:
            db = holder.read(rq.check_db)
        except DunetraceError as exc:
            db = exc.message
        except Exception as exc:  # noqa: BLE001 - the server reports the raw error text of SELECT 1
            db = str(exc)
        return ApiJSONResponse({"status": "ok", "version": version, "db": db})

    def config(request: Request) -> ApiJSONResponse:
        return ApiJSONResponse({"github_configured": False})

    def agents(request: Request) -> ApiJSONResponse:
        q = _Query(request)
        offset, limit = q.offset(), q.limit()
        q.done()
        rows, total = read(lambda conn: rq.list_agents(conn, now=clock(), offset=offset, limit=limit))
        return ApiJSONResponse({"agents": rows, "page": rq.page_dict(total, offset, limit)})

    def _runs(
        agent_id: str | None,
        offset: int,
        limit: int,
        has_signals: bool | None,
        per_agent_limit: int | None,
        run_id_prefix: str | None = None,
    ) -> ApiJSONResponse:
        rows, total = read(
            lambda conn: rq.list_runs(
                conn,
                agent_id=agent_id,
                offset=offset,
                limit=limit,
                has_signals=has_signals,
                per_agent_limit=per_agent_limit,
                run_id_prefix=run_id_prefix,
            )
        )
        return ApiJSONResponse({"runs": rows, "page": rq.page_dict(total, offset, limit)})

    def agent_runs(request: Request) -> ApiJSONResponse:
        q = _Query(request)
        offset, limit, has_signals = q.offset(), q.limit(), q.bool("has_signals", None)
        q.done()
        return _runs(request.path_params["agent_id"], offset, limit, has_signals, None)

    def all_runs(request: Request) -> ApiJSONResponse:
        q = _Query(request)
        offset, limit = q.offset(), q.limit()
        agent_id = q.str("agent_id")
        has_signals = q.bool("has_signals", None)
        per_agent_limit = q.int("per_agent_limit", None, ge=1)
        run_id_prefix = q.str("run_id_prefix")  # local addition: run lookup by id prefix
        q.done()
        return _runs(agent_id, offset, limit, has_signals, per_agent_limit, run_id_prefix or None)

    def run(request: Request) -> ApiJSONResponse:
        run_id = request.path_params["run_id"]
        q = _Query(request)
        include_shadow = q.bool("include_shadow", False)
        q.done()
        data = read(lambda conn: rq.run_detail(conn, run_id, include_shadow=include_shadow))
        if data is None:
            raise HTTPException(404, f"Run {run_id!r} not found")
        data["signals"] = [_with_explanation(s, run_id=data["run_id"]) for s in data["signals"]]
        return ApiJSONResponse(data)

    def _signals(
        agent_id: str | None,
        offset: int,
        limit: int,
        severity: str | None,
        failure_type: str | None,
        include_shadow: bool,
        explain: bool,
        per_agent_limit: int | None,
    ) -> ApiJSONResponse:
        _check_signal_filters(severity, failure_type)
        rows, total = read(
            lambda conn: rq.list_signals(
                conn,
                agent_id=agent_id,
                offset=offset,
                limit=limit,
                severity=severity,
                failure_type=failure_type,
                include_shadow=include_shadow,
                per_agent_limit=per_agent_limit,
            )
        )
        signals = [_with_explanation(r, run_id=r["run_id"], prose=explain) for r in rows]
        return ApiJSONResponse({"signals": signals, "page": rq.page_dict(total, offset, limit)})

    def agent_signals(request: Request) -> ApiJSONResponse:
        q = _Query(request)
        offset, limit = q.offset(), q.limit()
        severity, failure_type = q.str("severity"), q.str("failure_type")
        include_shadow = q.bool("include_shadow", False)
        explain = q.bool("explain", True)
        q.done()
        agent_id = request.path_params["agent_id"]
        return _signals(agent_id, offset, limit, severity, failure_type, include_shadow, explain, None)

    def all_signals(request: Request) -> ApiJSONResponse:
        q = _Query(request)
        offset, limit = q.offset(), q.limit()
        agent_id = q.str("agent_id")
        severity, failure_type = q.str("severity"), q.str("failure_type")
        include_shadow = q.bool("include_shadow", False)
        explain = q.bool("explain", True)
        per_agent_limit = q.int("per_agent_limit", None, ge=1)
        q.done()
        return _signals(agent_id, offset, limit, severity, failure_type, include_shadow, explain, per_agent_limit)

    def insights(request: Request) -> ApiJSONResponse:
        agent_id = request.path_params["agent_id"]
        return ApiJSONResponse(read(lambda conn: ri.insights(conn, agent_id, now=clock())))

    def health_score(request: Request) -> ApiJSONResponse:
        agent_id = request.path_params["agent_id"]
        return ApiJSONResponse(read(lambda conn: rh.health_score(conn, agent_id, now=clock())))

    def token_stats(request: Request) -> ApiJSONResponse:
        agent_id = request.path_params["agent_id"]
        return ApiJSONResponse(read(lambda conn: rt.token_stats(conn, agent_id, now=clock())))

    def get(path: str, endpoint: Callable[[Request], Any]) -> Route:
        route = Route(path, endpoint, methods=["GET"])
        if route.methods is not None:
            route.methods.discard("HEAD")  # FastAPI routes answer GET only (HEAD is a 405 there)
        return route

    routes = [
        get("/health", health),
        get("/v1/config", config),
        get("/v1/agents", agents),
        get("/v1/agents/{agent_id}/runs", agent_runs),
        get("/v1/agents/{agent_id}/signals", agent_signals),
        get("/v1/agents/{agent_id}/insights", insights),
        get("/v1/agents/{agent_id}/health-score", health_score),
        get("/v1/agents/{agent_id}/token-stats", token_stats),
        get("/v1/runs", all_runs),
        get("/v1/runs/{run_id}", run),
        get("/v1/signals", all_signals),
    ]
    # issues, failure patterns, fixes, policies, custom detectors, calls (routes_issues.py, routes_misc.py)
    from dunetrace_cli.local import routes_issues, routes_misc

    routes += routes_issues.routes(get, read, clock) + routes_misc.routes(get, read, clock)

    async def http_error(request: Request, exc: Exception) -> ApiJSONResponse:
        assert isinstance(exc, HTTPException)
        return ApiJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> ApiJSONResponse:
        assert isinstance(exc, RequestValidationFailed)
        return ApiJSONResponse({"detail": exc.errors}, status_code=422)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        holder.close()

    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: http_error,
            RequestValidationFailed: validation_error,
            DunetraceError: store_error_response,
        },
        lifespan=lifespan,
    )
    app.state.db_path = Path(db_path)
    app.state.store = holder
    app.state.raise_store_errors = raise_store_errors
    return app

