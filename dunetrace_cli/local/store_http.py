"""How the local Customer API answers a failure of the store itself.

Served (``dunetrace local serve``): 503 with the store error's sentence as ``detail`` (plus
Retry-After when waiting can help), and the error logged once with its cause through
``app.state.store_error_log`` (a :class:`~dunetrace_cli.local.store_errors.OnceLog`).
In-process (``DUNETRACE_API_URL=local``; ``app.state.raise_store_errors``): the typed error is raised
through the ASGI transport, so the command reports its own sentence and exit code, not "HTTP 503".
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse

from dunetrace_cli.errors import ApiUnavailable, DunetraceError
from dunetrace_cli.local.store_errors import OnceLog, StoreError


async def store_error_response(request: Request, exc: Exception) -> JSONResponse:
    state = request.app.state
    if getattr(state, "raise_store_errors", False):
        raise exc
    log = getattr(state, "store_error_log", None)
    if isinstance(log, OnceLog):
        path = exc.path if isinstance(exc, StoreError) else Path(getattr(state, "db_path", ""))
        log.error(exc, path, doing=f"answering {request.method} {request.url.path}", channel="api")
    message = exc.message if isinstance(exc, DunetraceError) else str(exc)
    headers = {"Retry-After": "5"} if isinstance(exc, ApiUnavailable) else None
    return JSONResponse({"detail": message}, status_code=503, headers=headers)
