"""Handlers for the latest server's issue, fix, call, policy and custom-detector routes (reads and writes).

Mixed into ``FakeApi``; the March generation has none of these routes, so they
answer 404 ``Not Found`` there exactly like the captured ``probe-*.json``.
Write routes keep their state on the FakeApi instance (never in the shared
dataset): ``fake.policies``, ``fake.detectors``, ``fake.issue_overrides``.
Status codes and ``detail`` texts follow the routers (see ``_upstream.py``);
the LLM-backed routes (explain, detector preview) answer 503 unless
``fake.llm`` is set, like a server without an LLM key. With ``fake.llm`` the
"LLM" answer is a fixed stand-in built from the signal's own explainer text
(the real text is generated), and ``fake.explain_delay`` seconds are slept
first so tests can exercise timeouts and progress.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from . import _upstream as U

_INT = TypeAdapter(int)
_ACTIONS = {
    "stop", "switch_model", "inject_prompt", "log", "stop_current_tts", "escalate_to_human",
    "inject_recovery_prompt", "slow_response_pace", "require_approval",
}
_DETECTOR_STATUSES = {"shadow", "active", "paused"}


def upstream_routes(route: Any, paging: tuple, opt_str: Any, opt_float: Any) -> list:
    """The _Route list (latest only); ``route`` is _core._Route."""
    return [
        route("/v1/agents/{agent_id}/issues", "agent_issues", (("status", opt_str, None),)),
        route(
            "/v1/issues/search",
            "issue_search",
            (("q", opt_str, ""), ("status", opt_str, None), ("agent_id", opt_str, None),
             ("failure_type", opt_str, None), *paging),
        ),
        route("/v1/issues/{issue_id}", "issue"),
        route("/v1/issues/{issue_id}/resolve", "issue_resolve", methods=("POST",)),
        route("/v1/signals/{signal_id}/fix-status", "fix_status"),
        route("/v1/signals/{signal_id}/explain", "explain", methods=("POST",)),
        route("/v1/agents/{agent_id}/fixes", "fixes"),
        route("/v1/agents/{agent_id}/failure-patterns/{failure_type}", "failure_pattern"),
        route(
            "/v1/calls",
            "calls",
            (("agent_id", opt_str, None), ("since", opt_float, None), ("completion_status", opt_str, None),
             ("cost_bucket", opt_str, None), *paging),
        ),
        route("/v1/calls/{conversation_id}", "call"),
        route("/v1/policies", "policies", (("agent_id", opt_str, None),), methods=("GET", "POST")),
        route("/v1/policies/{policy_id}", "policy", methods=("GET", "DELETE")),
        route("/v1/policies/{policy_id}/toggle", "policy_toggle", methods=("PATCH",)),
        route(
            "/v1/custom-detectors", "detectors", (("agent_id", opt_str, None),), methods=("GET", "POST"),
            statuses={"POST": 201},
        ),
        route("/v1/custom-detectors/preview", "detector_preview", methods=("POST",)),
        route(
            "/v1/custom-detectors/{detector_id}", "detector", methods=("GET", "PATCH", "DELETE"),
            statuses={"DELETE": 204},
        ),
    ]


def _path_int(name: str, value: str) -> int:
    try:
        return _INT.validate_python(value)
    except ValidationError as exc:
        from ._core import _Reply

        errors = [{**e, "loc": ["path", name]} for e in exc.errors(include_url=False)]
        raise _Reply(422, {"detail": errors}) from None


def _reply(status: int, detail: Any):
    from ._core import _Reply

    return _Reply(status, {"detail": detail})


def _require_fields(body: Any, fields: tuple[str, ...]) -> dict:
    if not isinstance(body, dict):
        raise _reply(422, [{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary or object to extract fields from", "input": body}])
    missing = [f for f in fields if f not in body]
    if missing:
        raise _reply(422, [{"type": "missing", "loc": ["body", f], "msg": "Field required", "input": body} for f in missing])
    return body


class UpstreamHandlers:
    """The handlers; ``self`` is a FakeApi."""

    data: dict

    def _init_upstream(self, now: float | None) -> None:
        self.now = U.default_now(self.data) if now is None else now
        self.llm = False
        self.explain_delay = 0.0
        self.fixes: dict[str, list[dict]] = {}  # agent_id -> FixRecord rows
        self.fix_status: dict[int, dict] = {}  # signal_id -> fix-status body
        self.calls: list[dict] = []  # CallDetail-shaped rows (the list shows the CallSummary fields)
        self.policies: list[dict] = []
        self.detectors: list[dict] = []
        self.issue_overrides: dict[int, dict] = {}
        self._issues: list[dict] | None = None
        self._next_id = {"policy": 1, "detector": 1}

    # ── issues ────────────────────────────────────────────────────────────

    def _all_issues(self) -> list[dict]:
        if self._issues is None:
            self._issues = U.derive_issues(self.data)
        return [{**i, **self.issue_overrides.get(i["id"], {})} for i in self._issues]

    def _get_agent_issues(self, agent_id: str, status: str | None) -> dict:
        issues = [i for i in self._all_issues() if i["agent_id"] == agent_id]
        if status:
            issues = [i for i in issues if i["status"] == status.lower()]  # "all" matches nothing
        rank = {"open": 0, "reopened": 1}
        issues.sort(key=lambda i: (rank.get(i["status"], 2), -i["last_seen"]))
        # list_issues selects neither resolution_notes nor manually_resolved: the Issue defaults fill them
        issues = [{**i, "resolution_notes": None, "manually_resolved": False} for i in issues]
        return {"issues": issues, "total": len(issues)}

    def _get_issue_search(self, q, status, agent_id, failure_type, offset, limit) -> dict:
        needle = (q or "").lower()
        rows = []
        for i in self._all_issues():
            haystack = " ".join([i["agent_id"], i["failure_type"], i["resolution_notes"] or ""]).lower()
            if needle and needle not in haystack:
                continue
            if status and i["status"] != status.lower():
                continue
            if agent_id and i["agent_id"] != agent_id:
                continue
            if failure_type and i["failure_type"] != failure_type.upper():
                continue
            rows.append(i)
        rows.sort(key=lambda i: -i["last_seen"])
        return {"issues": rows[offset : offset + limit], "page": _page(len(rows), offset, limit)}

    def _find_issue(self, issue_id: str) -> dict:
        wanted = _path_int("issue_id", issue_id)
        for issue in self._all_issues():
            if issue["id"] == wanted:
                return issue
        raise _reply(404, f"Issue {wanted} not found.")

    def _get_issue(self, issue_id: str) -> dict:
        issue = self._find_issue(issue_id)
        pattern = U.failure_pattern(self.data, issue["agent_id"], issue["failure_type"], self.now)
        explained = None
        if self.llm:
            newest = self._newest_signal(issue["agent_id"], issue["failure_type"])
            if newest is not None:
                explained = self._explain(newest)
        return U.issue_detail(issue, pattern, explained)

    def _post_issue_resolve(self, issue_id: str, body: Any) -> dict:
        issue = self._find_issue(issue_id)
        notes = _require_fields(body, ("resolution_notes",))["resolution_notes"]
        self.issue_overrides[issue["id"]] = {
            "status": "resolved", "resolved_at": self.now, "resolution_notes": str(notes), "manually_resolved": True,
        }
        return {"resolved": True, "issue_id": issue["id"]}

    def _newest_signal(self, agent_id: str, failure_type: str) -> dict | None:
        rows = [s for s in self.data["signals"].get(agent_id, []) if s["failure_type"] == failure_type]
        return max(rows, key=lambda s: s["detected_at"], default=None)

    # ── signals: fix status, explain ──────────────────────────────────────

    def _signal(self, signal_id: str) -> dict:
        wanted = _path_int("signal_id", signal_id)
        for signals in self.data["signals"].values():
            for s in signals:
                if s["id"] == wanted:
                    return s
        raise _reply(404, f"Signal {wanted} not found.")

    def _get_fix_status(self, signal_id: str) -> dict:
        signal = self._signal(signal_id)
        return self.fix_status.get(signal["id"], {"fix_applied": False})

    def _explain(self, signal: dict) -> dict:
        if self.explain_delay:
            time.sleep(self.explain_delay)
        fixes = signal.get("suggested_fixes") or []
        return {
            "signal_id": signal["id"],
            "root_cause": signal.get("why_it_matters") or signal.get("what") or "",
            "fix_content": (fixes[0].get("code") if fixes else None) or "",
        }

    def _post_explain(self, signal_id: str, body: Any = None) -> dict:
        signal = self._signal(signal_id)
        if not self.llm:
            raise _reply(503, "No LLM provider configured")
        return self._explain(signal)

    def _get_fixes(self, agent_id: str) -> dict:
        return {"fixes": self.fixes.get(agent_id, [])[:100]}

    def _get_failure_pattern(self, agent_id: str, failure_type: str) -> dict:
        from dunetrace.models import FailureType  # the route's allow-list is the SDK enum

        valid = {t.value for t in FailureType} | {"TASK_COMPLETION"}
        if failure_type not in valid and not failure_type.startswith("CUSTOM_"):
            raise _reply(422, f"Unknown failure_type '{failure_type}'. Valid: {sorted(valid)}")
        return U.failure_pattern(self.data, agent_id, failure_type, self.now)

    # ── calls ─────────────────────────────────────────────────────────────

    def _get_calls(self, agent_id, since, completion_status, cost_bucket, offset, limit) -> dict:
        if completion_status is not None and completion_status not in U.COMPLETION_STATUSES:
            raise _reply(422, f"Invalid completion_status {completion_status!r}. Valid: {sorted(U.COMPLETION_STATUSES)}")
        if cost_bucket is not None and cost_bucket not in U.COST_BUCKETS:
            raise _reply(422, f"Invalid cost_bucket {cost_bucket!r}. Valid: {sorted(U.COST_BUCKETS)}")
        rows = sorted(self.calls, key=lambda c: -c["last_run_at"])[: U.CALLS_AGGREGATED]
        if agent_id is not None:
            rows = [c for c in rows if c["agent_id"] == agent_id]
        if since is not None:
            rows = [c for c in rows if c["last_run_at"] >= since]
        if completion_status is not None:
            rows = [c for c in rows if c["completion_status"] == completion_status]
        if cost_bucket is not None:
            rows = [c for c in rows if U.cost_bucket(c["cost_usd"]) == cost_bucket]
        summary_keys = (
            "id", "agent_id", "external_id", "first_run_at", "last_run_at", "run_count", "duration_seconds",
            "completion_status", "silence_pct", "agent_talk_ms", "caller_talk_ms", "voice_signal_count",
            "cost_usd", "cost_breakdown", "agent_talk_ratio", "sentiment_trend",
        )
        page = [{k: c.get(k) for k in summary_keys} for c in rows[offset : offset + limit]]
        return {"calls": page, "page": _page(len(rows), offset, limit)}

    def _get_call(self, conversation_id: str) -> dict:
        wanted = _path_int("conversation_id", conversation_id)
        for call in self.calls:
            if call["id"] == wanted:
                return call
        raise _reply(404, f"Call {wanted!r} not found or has no runs")

    # ── policies ──────────────────────────────────────────────────────────

    def _get_policies(self, agent_id: str | None) -> list:
        rows = self.policies
        if agent_id is not None:
            rows = [p for p in rows if p["agent_id"] in (agent_id, "*")]
        return sorted(rows, key=lambda p: (p["priority"], p["id"]))

    def _policy(self, policy_id: str) -> dict:
        wanted = _path_int("policy_id", policy_id)
        for p in self.policies:
            if p["id"] == wanted:
                return p
        raise _reply(404, f"Policy {wanted} not found")

    def _post_policies(self, agent_id: str | None = None, body: Any = None) -> dict:
        from dunetrace.policies import VALID_OPERATORS, VALID_TRIGGERS

        body = _require_fields(body, ("name", "condition", "action"))
        condition, action = body["condition"], body["action"]
        if not isinstance(condition, dict) or "trigger" not in condition:
            raise _reply(422, [{"type": "missing", "loc": ["body", "condition", "trigger"], "msg": "Field required", "input": condition}])
        if not isinstance(action, dict) or "type" not in action:
            raise _reply(422, [{"type": "missing", "loc": ["body", "action", "type"], "msg": "Field required", "input": action}])
        if condition["trigger"] not in VALID_TRIGGERS:
            raise _reply(422, f"Invalid trigger {condition['trigger']!r}. Valid: {sorted(VALID_TRIGGERS)}")
        if condition["trigger"] != "expression":
            if condition.get("operator") is None:
                raise _reply(422, "condition.operator is required")
            if condition["operator"] not in VALID_OPERATORS:
                raise _reply(422, f"Invalid operator {condition['operator']!r}. Valid: {sorted(VALID_OPERATORS)}")
        if action["type"] not in _ACTIONS:
            raise _reply(422, f"Invalid action type {action['type']!r}. Valid: {sorted(_ACTIONS)}")
        now = self.now
        row = {
            "id": self._take_id("policy"),
            "agent_id": body.get("agent_id", "*"),
            "name": body["name"],
            "condition": {k: v for k, v in condition.items() if v is not None},
            "action": {k: v for k, v in action.items() if v is not None},
            "enabled": bool(body.get("enabled", True)),
            "priority": int(body.get("priority", 100)),
            "signature": "",  # dev mode: no POLICY_SIGNING_SECRET, so the server signs with ""
            "sig_version": 2 if condition.get("match") is not None else 1,
            "created_at": now,
            "updated_at": now,
        }
        self.policies.append(row)
        return row

    def _get_policy(self, policy_id: str) -> dict:
        return self._policy(policy_id)

    def _delete_policy(self, policy_id: str) -> dict:
        row = self._policy(policy_id)
        self.policies.remove(row)
        return {"deleted": True, "policy_id": row["id"]}

    def _patch_policy_toggle(self, policy_id: str, body: Any = None) -> dict:
        row = self._policy(policy_id)
        row["enabled"] = not row["enabled"]  # the server flips; any body is ignored
        row["updated_at"] = self.now
        return row

    # ── custom detectors ──────────────────────────────────────────────────

    def _get_detectors(self, agent_id: str | None) -> list:
        rows = self.detectors
        if agent_id is not None:
            rows = [d for d in rows if d["agent_id"] == agent_id]
        return list(rows)

    def _post_detector_preview(self, body: Any = None) -> dict:
        body = _require_fields(body, ("description",))
        description = str(body["description"]).strip()
        if not description:
            raise _reply(422, [{"type": "value_error", "loc": ["body", "description"], "msg": "Value error, description must not be empty", "input": body["description"]}])
        if not self.llm:
            raise _reply(503, "No LLM provider configured")
        words = [w for w in description.upper().replace("-", " ").split() if w.isalpha()][:3]
        threshold = next((int(w) for w in description.split() if w.isdigit()), 3)
        return {
            "detector_name": "CUSTOM_" + "_".join(words or ["RULE"]),
            "conditions": [{"metric": "tool_call_count", "operator": ">", "threshold": threshold}],
            "severity": "MEDIUM",
            "evidence_template": description,
            "fix_template": "",
            "requires_content": False,
        }

    def _post_detectors(self, agent_id: str | None = None, body: Any = None) -> dict:
        body = _require_fields(body, ("description", "config"))
        config = body["config"]
        name = config.get("detector_name") if isinstance(config, dict) else None
        if not name or not str(name).startswith("CUSTOM_"):
            raise _reply(422, "config.detector_name must start with CUSTOM_")
        if config.get("requires_content"):
            raise _reply(422, "Cannot save a detector that requires content access")
        if not isinstance(config.get("conditions"), list) or not config["conditions"]:
            raise _reply(422, "config.conditions must be a non-empty list")
        # The columns of custom_detectors (db/queries.py DDL), returned as a raw row: the router has no
        # response model, so FastAPI encodes created_at (a TIMESTAMPTZ) as an ISO-8601 string.
        row = {
            "id": self._take_id("detector"),
            "agent_id": body.get("agent_id", "*"),
            "name": name,
            "description": body["description"],
            "config_json": config,
            "status": "shadow",
            "created_at": datetime.fromtimestamp(self.now, tz=UTC).isoformat(),
            "total_runs": 0,
            "shadow_fire_count": 0,
        }
        self.detectors.append(row)
        return row

    def _detector(self, detector_id: str) -> dict:
        wanted = _path_int("detector_id", detector_id)
        for d in self.detectors:
            if d["id"] == wanted:
                return d
        raise _reply(404, "Custom detector not found")

    def _get_detector(self, detector_id: str) -> dict:
        return self._detector(detector_id)

    def _patch_detector(self, detector_id: str, body: Any = None) -> dict:
        body = _require_fields(body, ("status",))
        if body["status"] not in _DETECTOR_STATUSES:
            raise _reply(422, [{"type": "value_error", "loc": ["body", "status"], "msg": f"Value error, status must be one of {sorted(_DETECTOR_STATUSES)}", "input": body["status"]}])
        row = self._detector(detector_id)
        row["status"] = body["status"]
        return row

    def _delete_detector(self, detector_id: str) -> None:
        self.detectors.remove(self._detector(detector_id))
        return None

    def _take_id(self, kind: str) -> int:
        n = self._next_id[kind]
        self._next_id[kind] = n + 1
        return n


def _page(total: int, offset: int, limit: int) -> dict:
    return {"total": total, "offset": offset, "limit": limit, "has_more": offset + limit < total}
