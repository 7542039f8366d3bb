"""The fake's issue/fix/call/policy/detector routes: shapes from the upstream code, values from the dataset."""

from __future__ import annotations

import httpx
import pytest

from tests.fakeapi import FakeApi, load_capture
from tests.queries._data import signals

ISSUE_KEYS = {
    "id", "agent_id", "failure_type", "status", "first_seen", "last_seen", "resolved_at", "affected_runs",
    "clean_runs_since", "resolution_notes", "manually_resolved",
}
PATHS = [
    ("GET", "/v1/agents/langchain-example-agent/issues"),
    ("GET", "/v1/issues/search"),
    ("GET", "/v1/issues/1"),
    ("GET", "/v1/signals/1/fix-status"),
    ("GET", "/v1/agents/langchain-example-agent/fixes"),
    ("GET", "/v1/agents/langchain-example-agent/failure-patterns/TOOL_LOOP"),
    ("GET", "/v1/calls"),
    ("GET", "/v1/calls/1"),
    ("GET", "/v1/policies"),
    ("GET", "/v1/custom-detectors"),
    ("POST", "/v1/policies"),
    ("POST", "/v1/issues/1/resolve"),
    ("DELETE", "/v1/custom-detectors/1"),
]


def client(fake: FakeApi) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake.handle), base_url="http://fake.test")


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_march_has_none_of_these_routes(fake_march, method, path) -> None:
    response = client(fake_march).request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 404
    # byte for byte what the real March server answered (probe-*.json)
    assert response.json() == load_capture("march", "probe-v1-issues-search.json") == {"detail": "Not Found"}


def test_issues_group_live_signals_by_agent_and_type(fake_latest) -> None:
    body = client(fake_latest).get("/v1/agents/langchain-example-agent/issues").json()
    assert set(body) == {"issues", "total"} and body["total"] == len(body["issues"])
    live = signals(fake_latest, "langchain-example-agent")
    assert {i["failure_type"] for i in body["issues"]} == {s["failure_type"] for s in live}
    loop = next(i for i in body["issues"] if i["failure_type"] == "TOOL_LOOP")
    hits = [s for s in live if s["failure_type"] == "TOOL_LOOP"]
    assert set(loop) == ISSUE_KEYS
    assert loop["affected_runs"] == len({s["run_id"] for s in hits}) == 13
    assert loop["first_seen"] == min(s["detected_at"] for s in hits)
    assert loop["last_seen"] == max(s["detected_at"] for s in hits)
    ranks = [{"open": 0, "reopened": 1}.get(i["status"], 2) for i in body["issues"]]
    assert ranks == sorted(ranks)  # open, reopened, resolved (list_issues' ORDER BY)


def test_issue_status_filter_is_exact_and_all_matches_nothing(fake_latest) -> None:
    http = client(fake_latest)
    every = http.get("/v1/agents/retry-agent/issues").json()["issues"]
    resolved = http.get("/v1/agents/retry-agent/issues", params={"status": "resolved"}).json()["issues"]
    assert resolved and {i["status"] for i in resolved} == {"resolved"}
    assert len(resolved) < len(every)
    assert http.get("/v1/agents/retry-agent/issues", params={"status": "all"}).json() == {"issues": [], "total": 0}


def test_resolved_after_five_clean_runs(fake_latest) -> None:
    for issue in fake_latest._all_issues():
        if issue["status"] == "resolved":
            assert issue["clean_runs_since"] >= 5 and issue["resolved_at"] is not None
        else:
            assert issue["resolved_at"] is None


def test_search_pages_and_filters(fake_latest) -> None:
    http = client(fake_latest)
    body = http.get("/v1/issues/search", params={"q": "LOOP", "limit": 2}).json()
    everything = [i for i in fake_latest._all_issues() if "loop" in (i["agent_id"] + i["failure_type"]).lower()]
    assert body["page"] == {"total": len(everything), "offset": 0, "limit": 2, "has_more": len(everything) > 2}
    assert [i["last_seen"] for i in body["issues"]] == sorted((i["last_seen"] for i in everything), reverse=True)[:2]
    assert http.get("/v1/issues/search", params={"limit": 501}).status_code == 422


def test_issue_detail_and_resolve(fake_latest) -> None:
    http = client(fake_latest)
    detail = http.get("/v1/issues/13").json()
    assert detail["affected_runs_count"] == 13 and len(detail["affected_runs"]) == 5
    assert set(detail["affected_runs"][0]) == {"run_id", "detected_at", "step_index", "confidence"}
    assert detail["root_cause"] is None and detail["code_references"] == []
    assert http.get("/v1/issues/999").json() == {"detail": "Issue 999 not found."}
    assert http.get("/v1/issues/abc").status_code == 422
    assert http.post("/v1/issues/13/resolve", json={"resolution_notes": "capped retries"}).json() == {
        "resolved": True, "issue_id": 13,
    }
    after = http.get("/v1/issues/13").json()
    assert after["status"] == "resolved" and after["manually_resolved"] is True
    assert after["resolution_notes"] == "capped retries"
    assert http.post("/v1/issues/13/resolve", json={}).status_code == 422


def test_failure_pattern_is_case_sensitive_and_computed(fake_latest) -> None:
    http = client(fake_latest)
    body = http.get("/v1/agents/langchain-example-agent/failure-patterns/TOOL_LOOP").json()
    assert body["overview"]["affected_runs"] == 13 and body["overview"]["total_runs"] == 40
    assert body["overview"]["rate"] == 0.325
    assert sum(body["overview"]["severity_breakdown"].values()) == 13
    assert len(body["daily_trend"]) == 14 and body["daily_trend"][-1]["day"] == "2026-11-24"
    assert body["daily_trend"][-1]["affected_runs"] == 13
    assert body["evidence_aggregates"][0]["tool"] == "web_search"
    assert [r["confidence"] for r in body["top_runs"]] == sorted((r["confidence"] for r in body["top_runs"]), reverse=True)
    lower = http.get("/v1/agents/langchain-example-agent/failure-patterns/tool_loop")
    assert lower.status_code == 422 and lower.json()["detail"].startswith("Unknown failure_type 'tool_loop'")


def test_policy_crud(fake_latest) -> None:
    http = client(fake_latest)
    made = http.post("/v1/policies", json={
        "name": "guard", "agent_id": "rag-agent",
        "condition": {"trigger": "tool_call_count", "operator": "gt", "value": 10}, "action": {"type": "stop"},
    }).json()
    assert made["id"] == 1 and made["enabled"] is True and made["priority"] == 100 and made["signature"] == ""
    assert http.get("/v1/policies", params={"agent_id": "rag-agent"}).json() == [made]
    assert http.get("/v1/policies", params={"agent_id": "retry-agent"}).json() == []
    assert http.patch("/v1/policies/1/toggle", json={"enabled": True}).json()["enabled"] is False  # flips
    bad = http.post("/v1/policies", json={"name": "x", "condition": {"trigger": "nope", "operator": "gt"}, "action": {"type": "stop"}})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("Invalid trigger 'nope'")
    assert http.delete("/v1/policies/1").json() == {"deleted": True, "policy_id": 1}
    assert http.delete("/v1/policies/1").json() == {"detail": "Policy 1 not found"}


def test_detector_preview_needs_an_llm_then_shadow_create(fake_latest) -> None:
    http = client(fake_latest)
    assert http.post("/v1/custom-detectors/preview", json={"description": "too many searches"}).status_code == 503
    fake_latest.llm = True
    config = http.post("/v1/custom-detectors/preview", json={"description": "web_search more than 3 times"}).json()
    made = http.post("/v1/custom-detectors", json={"description": "d", "agent_id": "*", "config": config})
    assert made.status_code == 201 and made.json()["status"] == "shadow"
    assert http.patch("/v1/custom-detectors/1", json={"status": "active"}).json()["status"] == "active"
    assert http.patch("/v1/custom-detectors/1", json={"status": "on"}).status_code == 422
    assert http.delete("/v1/custom-detectors/1").status_code == 204
    assert http.get("/v1/custom-detectors").json() == []


def test_calls_validate_filters(fake_latest) -> None:
    http = client(fake_latest)
    assert http.get("/v1/calls").json() == {"calls": [], "page": {"total": 0, "offset": 0, "limit": 50, "has_more": False}}
    bad = http.get("/v1/calls", params={"completion_status": "hung_up"})
    assert bad.status_code == 422 and "Invalid completion_status 'hung_up'" in bad.json()["detail"]
    assert http.get("/v1/calls/7").json() == {"detail": "Call 7 not found or has no runs"}


def test_wrong_method_is_405_with_allow(fake_latest) -> None:
    response = client(fake_latest).put("/v1/policies/1/toggle")
    assert response.status_code == 405 and response.headers["allow"] == "PATCH"
