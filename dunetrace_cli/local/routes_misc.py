"""The store's fix, policy, custom-detector and voice-call routes, with the latest server's shapes.

The store has no fix records, policies, custom detectors or voice-call aggregation, so it answers what
a server holding none would, plus a ``note`` (in the body where it is an object, in the
``X-Dunetrace-Note`` header where the server sends a bare array):

    GET /v1/agents/{agent_id}/fixes          {fixes: [], note}
    GET /v1/signals/{signal_id}/fix-status   {fix_applied: false}; 404 "Signal N not found."
    GET /v1/policies                         []   (agent_id accepted)
    GET /v1/policies/{policy_id}             404 "Policy N not found"
    GET /v1/custom-detectors                 []   (agent_id accepted)
    GET /v1/custom-detectors/{detector_id}   404 "Custom detector not found"
    GET /v1/calls                            {calls: [], page, note}; completion_status/cost_bucket checked
    GET /v1/calls/{conversation_id}          404 "Call N not found or has no runs"

Writes the store cannot honour (create/toggle/delete a policy, create/preview/activate/pause/delete a
custom detector, an LLM explanation) answer 501 with one sentence saying where they can be done.
Shapes: upstream's ``routers/policies.py``, ``custom_detectors.py``, ``calls.py``, ``signals.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from dunetrace_cli.domain.voice import COMPLETION_STATUSES, COST_BUCKETS
from dunetrace_cli.local import readqueries_issues as qi
from dunetrace_cli.local.routes_issues import not_implemented, path_int

NOTE_FIXES = "The local store records no applied fixes; fixes are tracked by a Dunetrace backend."
NOTE_POLICIES = "The local store has no policies; the SDK's policy poll gets an empty list."
NOTE_DETECTORS = "The local store runs the SDK's built-in detectors only; custom detectors live on a backend."
NOTE_CALLS = "The local store does not aggregate voice calls; a Dunetrace backend with the voice pack does."

_ON_BACKEND = "use a Dunetrace backend (`dunetrace local export` replays the store into one)."


def routes(get: Callable[[str, Callable[[Request], Any]], Route], read: Callable[..., Any], clock: Callable[[], float]) -> list[Route]:
    from dunetrace_cli.local.api_http import ApiJSONResponse, _Query
    from dunetrace_cli.local.readqueries import page_dict

    def fixes(request: Request) -> ApiJSONResponse:
        return ApiJSONResponse({"fixes": [], "note": NOTE_FIXES})

    def fix_status(request: Request) -> ApiJSONResponse:
        signal_id = path_int(request, "signal_id")
        if not read(lambda conn: qi.signal_exists(conn, signal_id)):
            raise HTTPException(404, f"Signal {signal_id} not found.")
        return ApiJSONResponse({"fix_applied": False})

    def policies(request: Request) -> ApiJSONResponse:
        return ApiJSONResponse([], headers={"X-Dunetrace-Note": NOTE_POLICIES})

    def policy(request: Request) -> ApiJSONResponse:
        raise HTTPException(404, f"Policy {path_int(request, 'policy_id')} not found")

    def detectors(request: Request) -> ApiJSONResponse:
        return ApiJSONResponse([], headers={"X-Dunetrace-Note": NOTE_DETECTORS})

    def detector(request: Request) -> ApiJSONResponse:
        path_int(request, "detector_id")
        raise HTTPException(404, "Custom detector not found")

    def calls(request: Request) -> ApiJSONResponse:
        q = _Query(request)
        q.str("agent_id")
        since = q.str("since")
        completion_status, cost_bucket = q.str("completion_status"), q.str("cost_bucket")
        offset, limit = q.offset(), q.limit()
        q.done()
        if since is not None:
            try:
                float(since)
            except ValueError:
                from dunetrace_cli.local.api_http import RequestValidationFailed

                raise RequestValidationFailed(
                    [{"type": "float_parsing", "loc": ["query", "since"],
                      "msg": "Input should be a valid number, unable to parse string as a number", "input": since}]
                ) from None  # fmt: skip
        if completion_status is not None and completion_status not in COMPLETION_STATUSES:
            raise HTTPException(
                422, f"Invalid completion_status {completion_status!r}. Valid: {sorted(COMPLETION_STATUSES)}"
            )
        if cost_bucket is not None and cost_bucket not in COST_BUCKETS:
            raise HTTPException(422, f"Invalid cost_bucket {cost_bucket!r}. Valid: {sorted(COST_BUCKETS)}")
        return ApiJSONResponse({"calls": [], "page": page_dict(0, offset, limit), "note": NOTE_CALLS})

    def call(request: Request) -> ApiJSONResponse:
        raise HTTPException(404, f"Call {path_int(request, 'conversation_id')!r} not found or has no runs")

    def write(path: str, methods: list[str], sentence: str) -> Route:
        return Route(path, not_implemented(sentence), methods=methods)

    return [
        get("/v1/agents/{agent_id}/fixes", fixes),
        get("/v1/signals/{signal_id}/fix-status", fix_status),
        write(
            "/v1/signals/{signal_id}/explain", ["POST"],
            "The local store has no LLM explainer (every signal already carries its explanation and fixes); "
            f"for an LLM root-cause analysis {_ON_BACKEND}",
        ),
        get("/v1/policies", policies),
        write("/v1/policies", ["POST"], f"The local store cannot create policies; {_ON_BACKEND}"),
        get("/v1/policies/{policy_id}", policy),
        write("/v1/policies/{policy_id}", ["DELETE"], f"The local store has no policies to delete; {_ON_BACKEND}"),
        write("/v1/policies/{policy_id}/toggle", ["PATCH"], f"The local store has no policies to toggle; {_ON_BACKEND}"),
        get("/v1/custom-detectors", detectors),
        write("/v1/custom-detectors", ["POST"], f"The local store cannot create custom detectors; {_ON_BACKEND}"),
        write(
            "/v1/custom-detectors/preview", ["POST"],
            f"The local store cannot preview custom detectors (that needs the backend's LLM); {_ON_BACKEND}",
        ),
        get("/v1/custom-detectors/{detector_id}", detector),
        write(
            "/v1/custom-detectors/{detector_id}", ["PATCH", "DELETE"],
            f"The local store has no custom detectors to change; {_ON_BACKEND}",
        ),
        get("/v1/calls", calls),
        get("/v1/calls/{conversation_id}", call),
    ]
