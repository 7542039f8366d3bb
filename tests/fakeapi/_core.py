"""FakeApi: the Dunetrace Customer API (read side) served from captured data.

Every 200 body is assembled from responses captured from a real server
(``tests/data/<generation>/``, see ``build_data.py``); every error body is
either a captured one or built the way the server builds it (FastAPI
``HTTPException`` / Pydantic validation, checked against the captures in
``test_fakeapi.py``). The order of checks follows FastAPI: routing (404/405),
then the auth dependency (401), then query validation (422), then the
handler's own checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, Literal, Optional
from urllib.parse import parse_qsl

import httpx
from pydantic import Field, TypeAdapter, ValidationError

from ._upstream_routes import UpstreamHandlers, upstream_routes

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
GENERATION_DIRS = {"march": "real-api", "latest": "real-api-latest"}

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500

_SEVERITIES = {"LOW", "MEDIUM", "HIGH", "CRITICAL"}

# The March server's hand-written failure_type allow-list (routers/signals.py
# @962099b); its 422 text is captured in error-signals-failure_type-BOGUS.json.
MARCH_FAILURE_TYPES = frozenset(
    {
        "CASCADING_TOOL_FAILURE",
        "CONTEXT_BLOAT",
        "EMPTY_LLM_RESPONSE",
        "FIRST_STEP_FAILURE",
        "GOAL_ABANDONMENT",
        "LLM_TRUNCATION_LOOP",
        "PROMPT_INJECTION_SIGNAL",
        "RAG_EMPTY_RETRIEVAL",
        "REASONING_STALL",
        "RETRY_STORM",
        "SLOW_STEP",
        "STEP_COUNT_INFLATION",
        "TOOL_AVOIDANCE",
        "TOOL_LOOP",
        "TOOL_THRASHING",
    }
)

# Latest server (api_svc/failure_types.py @2da1088c): any UPPER_SNAKE string.
_FAILURE_TYPE_SHAPE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
_OPERATIONAL_TYPES = {"SEMANTIC_QUOTA_EXCEEDED", "EXTERNAL_INTEGRATION_DOWN"}
_SEMANTIC_TYPES = {
    "HALLUCINATION",
    "TASK_COMPLETION",
    "TASK_UNDERSTANDING_FAILURE",
    "OFF_TOPIC_DRIFT",
    "USER_FRUSTRATION",
    "CONFUSION_LOOP",
    "SYCOPHANCY_SIGNAL",
}

# Query parameter types, validated by Pydantic exactly as FastAPI does.
_OFFSET = TypeAdapter(Annotated[int, Field(ge=0)])
_LIMIT = TypeAdapter(Annotated[int, Field(ge=1, le=PAGE_SIZE_MAX)])
_OPT_BOOL = TypeAdapter(Optional[bool])
_BOOL = TypeAdapter(bool)
_OPT_STR = TypeAdapter(Optional[str])
_OPT_FLOAT = TypeAdapter(Optional[float])
_PER_AGENT_LIMIT = TypeAdapter(Optional[Annotated[int, Field(ge=1)]])

_PAGING = (("offset", _OFFSET, 0), ("limit", _LIMIT, PAGE_SIZE_DEFAULT))

_TIME_KEYS = frozenset(
    {"last_seen", "first_seen", "started_at", "completed_at", "timestamp", "detected_at", "deployed_at"}
)
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def load_dataset(generation: str) -> dict:
    """The dataset of one generation, as stored in tests/data."""
    path = DATA_DIR / GENERATION_DIRS[generation] / "dataset.json"
    return json.loads(path.read_text(encoding="utf-8"))


def load_capture(generation: str, name: str) -> Any:
    """One captured response body (or index.json) of a generation."""
    path = DATA_DIR / GENERATION_DIRS[generation] / "captures" / name
    return json.loads(path.read_text(encoding="utf-8"))


def render(body: Any) -> bytes:
    """Serialise like Starlette's JSONResponse."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


class _Reply(Exception):
    """Raised inside a handler to answer with an error status."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


class _Route:
    def __init__(self, template: str, handler: str, params=(), auth: bool = True, methods=("GET",), statuses=None):
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.regex = re.compile(f"^{pattern}$")
        self.handler, self.params, self.auth = handler, tuple(params), auth
        self.methods, self.statuses = tuple(methods), dict(statuses or {})


def _routes(generation: str) -> list[_Route]:
    latest = generation == "latest"
    runs_q = (*_PAGING, ("has_signals", _OPT_BOOL, None))
    signals_q = (*_PAGING, ("severity", _OPT_STR, None), ("failure_type", _OPT_STR, None))
    if latest:
        signals_q += (("include_shadow", _BOOL, False), ("explain", _BOOL, True))
    routes = [
        _Route("/health", "health", auth=False),
        _Route("/v1/agents", "agents", _PAGING),
        _Route("/v1/agents/{agent_id}/runs", "agent_runs", runs_q),
        _Route("/v1/runs/{run_id}", "run_detail", (("include_shadow", _BOOL, False),) if latest else ()),
        _Route("/v1/agents/{agent_id}/signals", "agent_signals", signals_q),
        _Route("/v1/agents/{agent_id}/insights", "insights"),
    ]
    if latest:
        routes += [
            _Route("/v1/config", "config", auth=False),
            _Route(
                "/v1/runs",
                "org_runs",
                (
                    *_PAGING,
                    ("agent_id", _OPT_STR, None),
                    ("has_signals", _OPT_BOOL, None),
                    ("per_agent_limit", _PER_AGENT_LIMIT, None),
                ),
            ),
            _Route(
                "/v1/signals",
                "org_signals",
                (
                    *_PAGING,
                    ("agent_id", _OPT_STR, None),
                    ("severity", _OPT_STR, None),
                    ("failure_type", _OPT_STR, None),
                    ("include_shadow", _BOOL, False),
                    ("explain", _BOOL, True),
                    ("per_agent_limit", _PER_AGENT_LIMIT, None),
                ),
            ),
            _Route("/v1/agents/{agent_id}/health-score", "health_score"),
            _Route("/v1/agents/{agent_id}/token-stats", "token_stats"),
        ]
        routes += upstream_routes(_Route, _PAGING, _OPT_STR, _OPT_FLOAT)
    else:
        routes.append(_Route("/openapi.json", "openapi", auth=False))
    return routes


class FakeApi(UpstreamHandlers):
    """In-process fake of the Dunetrace Customer API.

    ``generation`` picks the captured server: ``"march"`` (commit 962099b) or
    ``"latest"``. ``api_key=None`` behaves like ``AUTH_MODE=dev`` (the
    Authorization header is not read); otherwise every ``/v1`` route needs that
    key, as a bearer token or bare. ``api_key_agents`` (an addition to the
    agreed interface) limits ``GET /v1/agents`` to those agents, as the March
    server did for a key mapped to a customer; other routes stay unscoped,
    exactly like that server.

    ``data`` is the dataset in use (synthetic agents included). Besides the
    captured bodies it holds ``_processed_at`` (run_id -> the detector's
    processed time), which the API never returns but orders ``/v1/runs`` by.
    """

    def __init__(
        self,
        generation: Literal["march", "latest"] = "latest",
        *,
        api_key: str | None = None,
        latency: float = 0.0,
        extra_agents: int = 0,
        dataset: dict | None = None,
        api_key_agents: Collection[str] | None = None,
        now: float | None = None,
    ):
        if generation not in GENERATION_DIRS:
            raise ValueError(f"generation must be 'march' or 'latest', not {generation!r}")
        self.generation = generation
        self.api_key = api_key
        self.api_key_agents = set(api_key_agents) if api_key_agents is not None else None
        self.latency = latency
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.fail_next: list[int] = []
        self.malformed_paths: set[str] = set()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests ever being handled at once (concurrency, not timing)
        self._routes = _routes(generation)
        base = dataset if dataset is not None else load_dataset(generation)
        self.data = self._with_synthetic(base, extra_agents)
        self._index()
        self._init_upstream(now)  # issues, fixes, calls, policies, detectors (_upstream_routes.py)

    # ── data preparation ──────────────────────────────────────────────────

    def _with_synthetic(self, base: dict, n: int) -> dict:
        """A shallow copy of ``base`` plus ``n`` agents cloned from the real ones.

        Synthetic agent ``i`` copies real agent ``i % len(agents)``: same runs,
        signals, run details, insights, health score and token stats, with a
        new agent id, new run ids (uuid4-shaped, derived from the originals),
        new signal ids (``(i + 1) * 10**k + original id``) and every time field
        moved ``i + 1`` seconds back, so org-wide orderings have no ties.
        """
        data = {k: _shallow(v) for k, v in base.items()}
        data["_processed_at"] = {**_estimate_processed_at(base), **base.get("_processed_at", {})}
        if n <= 0:
            return data
        templates = [a["agent_id"] for a in base["agents"]]
        if not templates:
            raise ValueError("extra_agents needs at least one real agent to clone")
        max_id = max((s["id"] for ss in base["signals"].values() for s in ss), default=0)
        id_stride = 10 ** len(str(max_id))
        taken = {a["agent_id"] for a in base["agents"]}
        plans = {t: _Template(base, t, data["_processed_at"]) for t in templates}
        for i in range(n):
            agent_id = f"synthetic-agent-{i:04d}"
            if agent_id in taken:
                raise ValueError(f"dataset already has an agent {agent_id!r}")
            template = plans[templates[i % len(templates)]]
            template.clone_into(data, agent_id, shift=-1.0 * (i + 1), id_base=(i + 1) * id_stride)
        return data

    def _index(self) -> None:
        data = self.data
        agents = sorted(data["agents"], key=lambda a: -(a["last_seen"] or 0.0))
        self._agents = agents
        order = [a["agent_id"] for a in agents]
        processed = data["_processed_at"]
        all_runs = [r for aid in order for r in data["runs"].get(aid, [])]
        self._org_runs = sorted(all_runs, key=lambda r: -processed[r["run_id"]])
        all_signals = [s for aid in order for s in data["signals"].get(aid, [])]
        self._org_signals = sorted(all_signals, key=lambda s: -s["detected_at"])

    def _unknown_agent_body(self, kind: str, agent_id: str) -> Any:
        if self.generation == "march":
            body = load_capture("march", "error-unknown-agent-insights.json")
        else:
            body = load_capture("latest", f"GET_v1_agents_no-such-agent_{kind}.json")
        if "agent_id" in body:
            body["agent_id"] = agent_id
        return body

    # ── transport entry points ────────────────────────────────────────────

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Synchronous handler, usable with ``httpx.MockTransport``."""
        self._enter()
        try:
            if self.latency:
                time.sleep(self.latency)
            return self._respond(request)
        finally:
            self._leave()

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        """Asynchronous handler; sleeps ``latency`` without blocking the loop."""
        self._enter()
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return self._respond(request)
        finally:
            self._leave()

    def transport(self) -> httpx.MockTransport:
        """A transport for ``httpx.AsyncClient(transport=fake.transport())``."""
        return httpx.MockTransport(self.ahandle)

    def _respond(self, request: httpx.Request) -> httpx.Response:
        status, body, headers = self.dispatch(request)
        return httpx.Response(status, headers=headers, content=body, request=request)

    def dispatch(self, request: httpx.Request) -> tuple[int, bytes, dict[str, str]]:
        """Answer one request: (status, body bytes, headers)."""
        path = request.url.path
        params = dict(parse_qsl(request.url.query.decode("latin-1"), keep_blank_values=True))
        with self._lock:
            self.requests.append((request.method, path, params))
            injected = self.fail_next.pop(0) if self.fail_next else None
        if injected is not None:
            headers = {"content-type": "application/json"}
            if injected == 429:
                headers["retry-after"] = "0"
            try:
                detail = HTTPStatus(injected).phrase  # what HTTPException(status) says
            except ValueError:
                detail = "Error"
            return injected, render({"detail": detail}), headers
        try:
            status, body, extra = self._route(request, path, params)
        except _Reply as reply:
            status, body, extra = reply.status, reply.body, reply.headers
        content = render(body) if body is not None else b""
        headers = {"content-type": "application/json"} if body is not None else {}
        headers.update(extra)
        if path in self.malformed_paths:
            # A cut-off JSON document: a strict prefix of an object never parses.
            status, content = 200, content[: max(1, len(content) // 2)]
        return status, content, headers

    # ── routing, auth, validation ─────────────────────────────────────────

    def _match(self, path: str, method: str = "GET") -> tuple[_Route, dict] | None:
        """The route for ``path`` that takes ``method``, else the first route for ``path`` (a 405)."""
        found = None
        for route in self._routes:
            m = route.regex.match(path)
            if m:
                if method in route.methods:
                    return route, m.groupdict()
                found = found or (route, m.groupdict())
        return found

    def _route(self, request: httpx.Request, path: str, params: dict) -> tuple[int, Any, dict]:
        found = self._match(path, request.method)
        if found is None:
            if path != "/":
                other = path.rstrip("/") if path.endswith("/") else path + "/"
                if self._match(other):
                    location = str(request.url.copy_with(path=other))
                    return 307, None, {"location": location}
            raise _Reply(404, {"detail": "Not Found"})
        route, path_params = found
        if request.method not in route.methods:
            raise _Reply(405, {"detail": "Method Not Allowed"}, {"allow": ", ".join(route.methods)})
        if route.auth and self.api_key is not None:
            self._check_key(request.headers.get("authorization"))
        values, errors = {}, []
        for name, adapter, default in route.params:
            if name not in params:
                values[name] = default
                continue
            try:
                values[name] = adapter.validate_python(params[name])
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    errors.append({**err, "loc": ["query", name, *err["loc"]]})
        if errors:
            raise _Reply(422, {"detail": errors})
        verb = request.method.lower()
        handler: Callable[..., Any] = getattr(self, f"_{verb}_{route.handler}")
        if verb in ("post", "patch", "put"):
            values["body"] = _json_body(request)
        return route.statuses.get(request.method, 200), handler(**path_params, **values), {}

    def _check_key(self, authorization: str | None) -> None:
        if not authorization:
            raise _Reply(401, {"detail": "Missing Authorization header"})
        parts = authorization.strip().split()
        key = parts[-1] if parts else authorization
        if key != self.api_key:
            raise _Reply(401, {"detail": "Invalid or inactive API key"})

    def _check_filters(self, severity: str | None, failure_type: str | None) -> None:
        if severity and severity.upper() not in _SEVERITIES:
            raise _Reply(422, {"detail": f"Invalid severity {severity!r}. Valid: {sorted(_SEVERITIES)}"})
        if not failure_type:
            return
        if self.generation == "march":
            if failure_type.upper() not in MARCH_FAILURE_TYPES:
                detail = f"Invalid failure_type {failure_type!r}. Valid: {sorted(MARCH_FAILURE_TYPES)}"
                raise _Reply(422, {"detail": detail})
        elif not _FAILURE_TYPE_SHAPE.match(failure_type.upper()):
            detail = (
                f"Invalid failure_type {failure_type!r} — expected an UPPER_SNAKE_CASE name. "
                f"Known types: {', '.join(sorted(_known_failure_types()))}"
            )
            raise _Reply(422, {"detail": detail})

    # ── handlers ──────────────────────────────────────────────────────────

    def _get_health(self) -> dict:
        return self.data["health"]

    def _get_config(self) -> dict:
        return {"github_configured": False}

    def _get_openapi(self) -> dict:
        return load_capture("march", "openapi.json")

    def _get_agents(self, offset: int, limit: int) -> dict:
        agents = self._agents
        if self.api_key is not None and self.api_key_agents is not None:
            agents = [a for a in agents if a["agent_id"] in self.api_key_agents]
        return {"agents": agents[offset : offset + limit], "page": _page(len(agents), offset, limit)}

    def _get_agent_runs(self, agent_id: str, offset: int, limit: int, has_signals: bool | None) -> dict:
        return self._runs_page(self.data["runs"].get(agent_id, []), offset, limit, has_signals, None)

    def _get_org_runs(self, offset, limit, agent_id, has_signals, per_agent_limit) -> dict:
        runs = self._org_runs
        if agent_id is not None:
            runs = [r for r in runs if r["agent_id"] == agent_id]
        return self._runs_page(runs, offset, limit, has_signals, per_agent_limit)

    def _runs_page(self, runs, offset, limit, has_signals, per_agent_limit) -> dict:
        if has_signals is not None:
            runs = [r for r in runs if (r["signal_count"] > 0) is has_signals]
        runs = _per_agent(runs, per_agent_limit)
        return {"runs": runs[offset : offset + limit], "page": _page(len(runs), offset, limit)}

    def _get_run_detail(self, run_id: str, include_shadow: bool = False) -> dict:
        detail = self.data["run_details"].get(run_id)
        if detail is None:
            raise _Reply(404, {"detail": f"Run {run_id!r} not found"})
        if not include_shadow and any(s.get("shadow") for s in detail["signals"]):
            detail = {**detail, "signals": [s for s in detail["signals"] if not s.get("shadow")]}
        return detail

    def _get_agent_signals(
        self, agent_id, offset, limit, severity, failure_type, include_shadow=False, explain=True
    ) -> dict:
        signals = self.data["signals"].get(agent_id, [])
        return self._signals_page(
            signals, offset, limit, severity, failure_type, include_shadow, explain, None
        )

    def _get_org_signals(
        self, offset, limit, agent_id, severity, failure_type, include_shadow, explain, per_agent_limit
    ) -> dict:
        signals = self._org_signals
        if agent_id is not None:
            signals = [s for s in signals if s["agent_id"] == agent_id]
        return self._signals_page(
            signals, offset, limit, severity, failure_type, include_shadow, explain, per_agent_limit
        )

    def _signals_page(
        self, signals, offset, limit, severity, failure_type, include_shadow, explain, per_agent_limit
    ) -> dict:
        self._check_filters(severity, failure_type)
        if not include_shadow:
            signals = [s for s in signals if not s.get("shadow")]
        if severity:
            signals = [s for s in signals if s["severity"] == severity.upper()]
        if failure_type:
            signals = [s for s in signals if s["failure_type"] == failure_type.upper()]
        signals = _per_agent(signals, per_agent_limit)
        page = signals[offset : offset + limit]
        if not explain:
            page = [{**s, "what": "", "why_it_matters": "", "suggested_fixes": []} for s in page]
        return {"signals": page, "page": _page(len(signals), offset, limit)}

    def _get_insights(self, agent_id: str) -> dict:
        return self._per_agent_body("insights", "insights", agent_id)

    def _get_health_score(self, agent_id: str) -> dict:
        return self._per_agent_body("health_score", "health-score", agent_id)

    def _get_token_stats(self, agent_id: str) -> dict:
        return self._per_agent_body("token_stats", "token-stats", agent_id)

    def _per_agent_body(self, key: str, kind: str, agent_id: str) -> dict:
        body = self.data.get(key, {}).get(agent_id)
        if body is None or body.get("_status") is not None:
            return self._unknown_agent_body(kind, agent_id)
        return body


def _json_body(request: httpx.Request) -> Any:
    """The JSON request body, or FastAPI's 422 for one that does not parse."""
    raw = request.content or b""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        error = {"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error", "input": {}, "ctx": {"error": "Expecting value"}}
        raise _Reply(422, {"detail": [error]}) from None


def _shallow(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    return list(value) if isinstance(value, list) else value


def _page(total: int, offset: int, limit: int) -> dict:
    return {"total": total, "offset": offset, "limit": limit, "has_more": offset + limit < total}


def _per_agent(rows: list[dict], per_agent_limit: int | None) -> list[dict]:
    """Keep each agent's first ``per_agent_limit`` rows (rows are newest first)."""
    if per_agent_limit is None:
        return rows
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        n = seen.get(r["agent_id"], 0)
        if n < per_agent_limit:
            out.append(r)
        seen[r["agent_id"]] = n + 1
    return out


_KNOWN_TYPES: set[str] | None = None


def _known_failure_types() -> set[str]:
    """The list the latest server prints in its failure_type 422 (from the SDK)."""
    global _KNOWN_TYPES
    if _KNOWN_TYPES is None:
        names = set(_OPERATIONAL_TYPES | _SEMANTIC_TYPES)
        try:
            from dunetrace.models import FailureType

            names |= {t.value for t in FailureType}
            from dunetrace.packs import PACK_REGISTRY

            for pack in PACK_REGISTRY.values():
                names |= {d.name for d in pack.detectors}
        except Exception:
            names |= MARCH_FAILURE_TYPES
        _KNOWN_TYPES = names
    return _KNOWN_TYPES


def _synthetic_run_id(agent_id: str, run_id: str) -> str:
    digest = hashlib.md5(f"{agent_id}/{run_id}".encode()).hexdigest()
    return str(uuid.UUID(hex=digest, version=4))


_TIME, _STR = "time", "str"


def _plan(value: Any, agent_id: str, run_ids: set[str]) -> Any:
    """Where a template value needs rewriting when cloned (None: nowhere)."""
    if isinstance(value, dict):
        sub = {}
        for k, v in value.items():
            p = _TIME if k in _TIME_KEYS and isinstance(v, float) else _plan(v, agent_id, run_ids)
            if p is not None:
                sub[k] = p
        return ("d", sub) if sub else None
    if isinstance(value, list):
        sub = [(i, p) for i, v in enumerate(value) if (p := _plan(v, agent_id, run_ids)) is not None]
        return ("l", sub) if sub else None
    if isinstance(value, str):
        if value == agent_id or any(m in run_ids for m in _UUID_RE.findall(value)):
            return _STR
    return None


def _apply(value: Any, plan: Any, shift: float, run_map: dict, agent_map: dict) -> Any:
    """Clone ``value`` along ``plan``; untouched subtrees are shared."""
    if plan is None:
        return value
    if plan is _TIME:
        return value + shift
    if plan is _STR:
        if value in agent_map:
            return agent_map[value]
        return _UUID_RE.sub(lambda m: run_map.get(m.group(0), m.group(0)), value)
    kind, sub = plan
    out = dict(value) if kind == "d" else list(value)
    for key, p in sub.items() if kind == "d" else sub:
        out[key] = _apply(value[key], p, shift, run_map, agent_map)
    return out


class _Template:
    """One real agent's data, prepared for cheap cloning into synthetic agents."""

    def __init__(self, base: dict, agent_id: str, processed_at: dict[str, float]):
        self.agent_id = agent_id
        self.run_ids = [r["run_id"] for r in base["runs"].get(agent_id, [])]
        ids = set(self.run_ids)

        def prep(value: Any) -> tuple[Any, Any]:
            return value, _plan(value, agent_id, ids)

        self.summary = prep(next(a for a in base["agents"] if a["agent_id"] == agent_id))
        self.runs = [prep(r) for r in base["runs"].get(agent_id, [])]
        self.signals = [prep(s) for s in base["signals"].get(agent_id, [])]
        details = base["run_details"]
        self.details = {rid: prep(details[rid]) for rid in self.run_ids if rid in details}
        self.per_agent = {
            key: prep(base[key][agent_id]) for key in ("insights", "health_score", "token_stats")
            if agent_id in base.get(key, {})
        }
        self.processed_at = {rid: processed_at[rid] for rid in self.run_ids}

    def clone_into(self, data: dict, agent_id: str, *, shift: float, id_base: int) -> None:
        run_map = {rid: _synthetic_run_id(agent_id, rid) for rid in self.run_ids}
        agent_map = {self.agent_id: agent_id}

        def clone(prepared: tuple[Any, Any]) -> Any:
            return _apply(prepared[0], prepared[1], shift, run_map, agent_map)

        def clone_signal(signal: dict) -> dict:
            return {**signal, "id": id_base + signal["id"]}

        data["agents"].append(clone(self.summary))
        data["runs"][agent_id] = [clone(r) for r in self.runs]
        data["signals"][agent_id] = [clone_signal(clone(s)) for s in self.signals]
        for rid, prepared in self.details.items():
            detail = clone(prepared)
            detail["signals"] = [clone_signal(s) for s in detail["signals"]]
            data["run_details"][run_map[rid]] = detail
        for rid, value in self.processed_at.items():
            data["_processed_at"][run_map[rid]] = value + shift
        for key, prepared in self.per_agent.items():
            data.setdefault(key, {})[agent_id] = clone(prepared)


def _estimate_processed_at(dataset: dict) -> dict[str, float]:
    """processed_at for runs a caller-supplied dataset does not pin.

    The stored datasets carry ``_processed_at``; this fallback keeps each
    agent's run order (newest first) using signal or completion times.
    """
    pinned = dataset.get("_processed_at", {})
    detected = {s["run_id"]: s["detected_at"] for ss in dataset.get("signals", {}).values() for s in ss}
    out: dict[str, float] = {}
    for runs in dataset.get("runs", {}).values():
        prev = None
        for r in runs:
            rid = r["run_id"]
            value = pinned.get(rid) or detected.get(rid) or (r["completed_at"] or r["started_at"] or 0.0)
            if prev is not None and value >= prev:
                value = prev - 1e-6
            out[rid] = prev = value
    return out
