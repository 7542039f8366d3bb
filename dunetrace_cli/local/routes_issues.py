"""The store's issue and failure-pattern routes, with the latest server's shapes, codes and texts.

    GET  /v1/agents/{agent_id}/issues                    status            {issues: [Issue], total}
    GET  /v1/issues/search                               q, status, agent_id, failure_type, offset, limit
    GET  /v1/issues/{issue_id}                           IssueDetail; 404 "Issue N not found."
    POST /v1/issues/{issue_id}/resolve                   501: issues here resolve themselves after 5 clean runs
    GET  /v1/agents/{agent_id}/failure-patterns/{type}   FailurePatternAnalysis; 422 for an unknown type

Shapes follow upstream's ``routers/issues.py``, ``routers/failure_patterns.py`` and ``schemas.py``
(commit in ``tests/data/README.md``); the rows come from :mod:`dunetrace_cli.local.readqueries_issues`.
The server's ``root_cause``/``suggested_fix`` come from an LLM when one is configured; the store has none,
so they are null, as on a server without an LLM key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dunetrace_cli.local import readqueries_issues as qi

_INT = TypeAdapter(int)


def path_int(request: Request, name: str) -> int:
    """A path parameter typed ``int`` in the router: FastAPI's 422 when it does not parse."""
    from dunetrace_cli.local.api_http import RequestValidationFailed

    raw = request.path_params[name]
    try:
        return _INT.validate_python(raw)
    except ValidationError as exc:
        errors = [
            {"type": e["type"], "loc": ["path", name], "msg": e["msg"], "input": e.get("input", raw)}
            for e in exc.errors(include_url=False)
        ]
        raise RequestValidationFailed(errors) from None


def not_implemented(sentence: str) -> Callable[[Request], Awaitable[JSONResponse]]:
    """A write the store cannot honour: 501 with one sentence saying why and where it can be done."""

    async def endpoint(request: Request) -> JSONResponse:
        if getattr(request.app.state, "raise_store_errors", False):  # in process: the command's own sentence
            from dunetrace_cli.local.store_errors import StoreUnsupported

            raise StoreUnsupported(sentence)
        return JSONResponse({"detail": sentence}, status_code=501)

    return endpoint


@lru_cache(maxsize=1)
def _pattern_types() -> frozenset[str]:
    try:
        from dunetrace.models import FailureType

        return frozenset({t.value for t in FailureType} | {"TASK_COMPLETION"})
    except ImportError:  # pragma: no cover - the SDK is a dependency
        return frozenset({"TASK_COMPLETION"})


def routes(get: Callable[[str, Callable[[Request], Any]], Route], read: Callable[..., Any], clock: Callable[[], float]) -> list[Route]:
    """The routes, built with api.py's ``get`` (GET-only routes) and ``read`` (one store snapshot)."""
    from dunetrace_cli.local.api_http import ApiJSONResponse, _Query

    def agent_issues(request: Request) -> ApiJSONResponse:
        q = _Query(request)
        status = q.str("status")
        q.done()
        issues = read(lambda conn: qi.agent_issues(conn, request.path_params["agent_id"], status))
        return ApiJSONResponse({"issues": issues, "total": len(issues)})

    def search(request: Request) -> ApiJSONResponse:
        from dunetrace_cli.local.readqueries import page_dict

        q = _Query(request)
        text = q.str("q") or ""
        status, agent_id, failure_type = q.str("status"), q.str("agent_id"), q.str("failure_type")
        offset, limit = q.offset(), q.limit()
        q.done()
        rows, total = read(
            lambda conn: qi.search_issues(
                conn, q=text, status=status, agent_id=agent_id, failure_type=failure_type, offset=offset, limit=limit
            )
        )
        return ApiJSONResponse({"issues": rows, "page": page_dict(total, offset, limit)})

    def issue(request: Request) -> ApiJSONResponse:
        issue_id = path_int(request, "issue_id")

        def build(conn: Any) -> dict[str, Any] | None:
            found = qi.issue_by_id(conn, issue_id)
            if found is None:
                return None
            pattern = qi.failure_pattern(conn, found["agent_id"], found["failure_type"], now=clock())
            body = {k: v for k, v in found.items() if k != "affected_runs"}
            body["affected_runs_count"] = found["affected_runs"]
            keys = ("id", "agent_id", "failure_type", "status", "first_seen", "last_seen", "resolved_at",
                    "affected_runs_count", "clean_runs_since", "resolution_notes", "manually_resolved")  # fmt: skip
            detail = {k: body[k] for k in keys}
            detail["affected_runs"] = [
                {k: r[k] for k in ("run_id", "detected_at", "step_index", "confidence")} for r in pattern["top_runs"]
            ]
            # the server's LLM analysis; null, as on a server without an LLM key (each signal has its explanation)
            detail.update(root_cause=None, suggested_fix=None, code_references=[])
            return detail

        detail = read(build)
        if detail is None:
            raise HTTPException(404, f"Issue {issue_id} not found.")
        return ApiJSONResponse(detail)

    def failure_pattern(request: Request) -> ApiJSONResponse:
        agent_id, failure_type = request.path_params["agent_id"], request.path_params["failure_type"]
        valid = _pattern_types()
        if failure_type not in valid and not failure_type.startswith("CUSTOM_"):
            raise HTTPException(422, f"Unknown failure_type '{failure_type}'. Valid: {sorted(valid)}")
        return ApiJSONResponse(read(lambda conn: qi.failure_pattern(conn, agent_id, failure_type, now=clock())))

    resolve = Route(
        "/v1/issues/{issue_id}/resolve",
        not_implemented(
            "The local store cannot resolve issues by hand: an issue here resolves itself after "
            f"{qi.CLEAN_RUNS_THRESHOLD} clean runs in a row; resolve it on a Dunetrace backend."
        ),
        methods=["POST"],
    )
    return [
        get("/v1/agents/{agent_id}/issues", agent_issues),
        get("/v1/issues/search", search),
        get("/v1/issues/{issue_id}", issue),
        resolve,
        get("/v1/agents/{agent_id}/failure-patterns/{failure_type}", failure_pattern),
    ]
