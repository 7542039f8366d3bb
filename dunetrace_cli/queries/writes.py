"""Write operations (opt-in): explain a signal, policies, custom detectors, resolving issues.

Each is one request (two for ``create_custom_detector``: preview, then create; two for
``toggle_policy``: it reads the policy first, because the server's toggle flips the flag
whatever the body says). Input is checked before any request; a server without the route
answers one sentence. Confirmation is the faces' job (CLI prompt, MCP elicitation).
"""

from __future__ import annotations

import json
from typing import Any

from dunetrace_cli.client import ApiClient, RouteMissing
from dunetrace_cli.errors import ApiUnavailable, UsageError
from dunetrace_cli.models.writes import WriteResult
from dunetrace_cli.queries._common import no_route, seg
from dunetrace_cli.queries.fixes import signal_id_of
from dunetrace_cli.queries.issues import issue_id_of


async def _send(client: ApiClient, method: str, path: str, body: Any, what: str, *, llm: bool = False) -> Any:
    try:
        return await client.send(method, path, body)
    except RouteMissing:
        raise no_route(what) from None
    except ApiUnavailable as exc:
        if llm and "HTTP 503" in exc.message:
            raise ApiUnavailable(
                "the server cannot run its LLM for this (HTTP 503: no LLM key configured on the backend, or the "
                "provider is down). Configure one on the backend and retry; nothing was changed."
            ) from exc
        raise


def _json_object(text: Any, name: str) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(str(text))
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"the policy {name} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            f'give an object such as {{"trigger": "tool_call_count", "operator": "gt", "value": 10}}.'
        ) from None
    if not isinstance(value, dict):
        raise UsageError(f"the policy {name} must be a JSON object, not {type(value).__name__}.")
    return value


def _id(value: Any, what: str) -> str:
    text = str(value).strip()
    if not text:
        raise UsageError(f"a {what} id is required.")
    return seg(text)


async def trigger_explain(client: ApiClient, *, signal_id: int | str, agent_id: str | None = None) -> WriteResult:
    number = signal_id_of(signal_id)
    client.progress(f"asking the server to explain signal {number} with its LLM (this costs money and can take 15 s)…")
    body = await _send(client, "POST", f"/v1/signals/{number}/explain", None, "explain", llm=True)
    return WriteResult(action="trigger_explain", target="signal", id=number, message=f"signal {number} explained.", body=body)


async def create_policy(
    client: ApiClient, *, name: str, agent_id: str, condition: Any, action: Any, priority: int | None = None
) -> WriteResult:
    if not str(name or "").strip():
        raise UsageError("a policy name is required.")
    cond = _json_object(condition, "condition")
    act = _json_object(action, "action")
    if "trigger" not in cond:
        raise UsageError('the policy condition needs a "trigger" (e.g. tool_call_count, cost_usd, step_count).')
    if "type" not in act:
        raise UsageError('the policy action needs a "type" (stop, switch_model, inject_prompt, log, ...).')
    body: dict[str, Any] = {"name": name.strip(), "agent_id": agent_id or "*", "condition": cond, "action": act}
    if priority is not None:
        body["priority"] = priority
    row = await _send(client, "POST", "/v1/policies", body, "policies")
    pid = row.get("id") if isinstance(row, dict) else None
    return WriteResult(action="create_policy", target="policy", id=pid, message=f"policy {pid} '{name.strip()}' created.", body=row)


async def toggle_policy(client: ApiClient, *, policy_id: int | str, enabled: bool) -> WriteResult:
    pid = _id(policy_id, "policy")
    try:
        current = await client.get(f"/v1/policies/{pid}")
    except RouteMissing:
        raise no_route("policies") from None
    state = "enabled" if enabled else "disabled"
    if isinstance(current, dict) and bool(current.get("enabled")) is bool(enabled):
        return WriteResult(action="toggle_policy", target="policy", id=policy_id, changed=False,
                           message=f"policy {policy_id} is already {state}; nothing changed.", body=current)
    row = await _send(client, "PATCH", f"/v1/policies/{pid}/toggle", {"enabled": bool(enabled)}, "policies")
    return WriteResult(action="toggle_policy", target="policy", id=policy_id, message=f"policy {policy_id} {state}.", body=row)


async def delete_policy(client: ApiClient, *, policy_id: int | str) -> WriteResult:
    pid = _id(policy_id, "policy")
    body = await _send(client, "DELETE", f"/v1/policies/{pid}", None, "policies")
    return WriteResult(action="delete_policy", target="policy", id=policy_id, message=f"policy {policy_id} deleted.", body=body)


async def create_custom_detector(client: ApiClient, *, description: str, agent_id: str | None = "*") -> WriteResult:
    text = str(description or "").strip()
    if not text:
        raise UsageError("describe the detector in plain English, e.g. 'flag runs that call web_search more than 3 times'.")
    if len(text) > 1000:
        raise UsageError("the detector description must be at most 1000 characters.")
    scope = agent_id or "*"
    client.progress("asking the server to translate the description (LLM)…")
    config = await _send(
        client, "POST", "/v1/custom-detectors/preview", {"description": text, "agent_id": scope}, "custom-detectors",
        llm=True,
    )
    if not isinstance(config, dict):
        raise UsageError("the server's preview was not a detector configuration; nothing was created.")
    if config.get("requires_content"):
        reason = str(config.get("reason") or "it needs the runs' content")
        return WriteResult(action="create_custom_detector", target="custom detector", changed=False,
                           message=f"not created: the server says this detector needs content access ({reason}).", body=config)
    row = await _send(client, "POST", "/v1/custom-detectors", {"description": text, "agent_id": scope, "config": config}, "custom-detectors")
    did = row.get("id") if isinstance(row, dict) else None
    return WriteResult(
        action="create_custom_detector", target="custom detector", id=did,
        message=f"custom detector {did} ({config.get('detector_name')}) created in shadow mode: it evaluates silently until activated.",
        body={"preview": config, "detector": row},
    )


async def _set_detector(client: ApiClient, detector_id: Any, status: str, action: str) -> WriteResult:
    did = _id(detector_id, "detector")
    row = await _send(client, "PATCH", f"/v1/custom-detectors/{did}", {"status": status}, "custom-detectors")
    word = "activated (fires live alerts)" if status == "active" else "paused"
    return WriteResult(action=action, target="custom detector", id=detector_id, message=f"custom detector {detector_id} {word}.", body=row)


async def activate_custom_detector(client: ApiClient, *, detector_id: int | str) -> WriteResult:
    return await _set_detector(client, detector_id, "active", "activate_custom_detector")


async def pause_custom_detector(client: ApiClient, *, detector_id: int | str) -> WriteResult:
    return await _set_detector(client, detector_id, "paused", "pause_custom_detector")


async def delete_custom_detector(client: ApiClient, *, detector_id: int | str) -> WriteResult:
    did = _id(detector_id, "detector")
    body = await _send(client, "DELETE", f"/v1/custom-detectors/{did}", None, "custom-detectors")
    return WriteResult(action="delete_custom_detector", target="custom detector", id=detector_id,
                       message=f"custom detector {detector_id} deleted.", body=body)


async def resolve_issue(client: ApiClient, *, issue_id: int | str, resolution_notes: str) -> WriteResult:
    number = issue_id_of(issue_id)
    notes = str(resolution_notes or "").strip()
    if not notes:
        raise UsageError("resolution notes are required: say what fixed it (they are searchable later).")
    body = await _send(client, "POST", f"/v1/issues/{number}/resolve", {"resolution_notes": notes}, "issues")
    return WriteResult(action="resolve_issue", target="issue", id=number,
                       message=f"issue {number} resolved; it reopens if the failure recurs.", body=body)
