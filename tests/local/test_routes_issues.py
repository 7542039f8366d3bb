"""The store's issue, failure-pattern, fix, policy, detector and call routes (routes_issues.py, routes_misc.py).

The store is built from the SDK's own captured events (tests/data/sdk-events): the looping and clean
web-researcher runs and the retry-storm and clean support-bot runs, cloned with new ids an hour apart so
an issue opens, resolves after 5 clean runs and reopens. Shapes follow upstream's routers (commit in
tests/data/README.md).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dunetrace_cli.local.api import create_api_app

HOUR = 3600.0
ISSUE_KEYS = [
    "id", "agent_id", "failure_type", "status", "first_seen", "last_seen", "resolved_at", "affected_runs",
    "clean_runs_since", "resolution_notes", "manually_resolved",
]  # fmt: skip


def _runs(path: Path, agent: str) -> list[list[dict[str, Any]]]:
    by_run: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if event["agent_id"] == agent:
            by_run.setdefault(event["run_id"], []).append(event)
    return list(by_run.values())


def _clone(events: list[dict[str, Any]], n: int, start: float) -> list[dict[str, Any]]:
    """The run's events with fresh ids, shifted to begin at ``start``."""
    t0 = min(e["timestamp"] for e in events)
    out = []
    for e in events:
        c = json.loads(json.dumps(e))
        c["run_id"] = f"{e['run_id'][:-4]}{n:04d}"
        c["event_id"] = f"{e['event_id'][:-4]}{n:04d}"
        c["timestamp"] = start + (e["timestamp"] - t0)
        out.append(c)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.local.conftest import SDK_EVENTS

    loop = _runs(SDK_EVENTS / "scenario-a-looping.jsonl", "web-researcher")[0]
    clean_web = _runs(SDK_EVENTS / "scenario-b-clean.jsonl", "web-researcher")[0]
    storm = _runs(SDK_EVENTS / "scenario-c-retry-storm.jsonl", "support-bot")[0]
    clean_bot = _runs(SDK_EVENTS / "scenario-b-clean.jsonl", "support-bot")[0]
    t0 = 1_795_000_000.0
    plan = {
        "web-researcher": [loop, *[clean_web] * 5, loop, clean_web],  # open, resolved, reopened, 1 clean
        "support-bot": [storm, *[clean_bot] * 6],  # open, resolved after the fifth clean run
    }
    lines, order = [], {}
    n = 0
    for agent, runs in plan.items():
        for i, run in enumerate(runs):
            n += 1
            events = _clone(run, n, t0 + i * HOUR + (0 if agent == "web-researcher" else 60))
            order.setdefault(agent, []).append(events[0]["run_id"])
            lines.extend(events)
    folder = tmp_path_factory.mktemp("issues")
    src = folder / "events.jsonl"
    src.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    db = folder / "s.db"
    from typer.testing import CliRunner

    from dunetrace_cli.cli.app import app

    result = CliRunner().invoke(app, ["local", "ingest", str(src), "--db", str(db)])
    assert result.exit_code == 0, result.output
    now = t0 + 9 * HOUR
    return {"db": db, "order": order, "now": now}


@pytest.fixture(scope="module")
def client(built: dict[str, Any]) -> TestClient:
    return TestClient(create_api_app(built["db"], clock=lambda: built["now"], stall_seconds=None))


def _sql(db: Path, query: str, *args: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


def _issue(client: TestClient, agent: str, failure_type: str) -> dict[str, Any]:
    body = client.get(f"/v1/agents/{agent}/issues").json()
    return next(i for i in body["issues"] if i["failure_type"] == failure_type)


def test_an_issue_resolves_after_five_clean_runs_and_reopens_when_it_recurs(client: TestClient, built: dict) -> None:
    order = built["order"]["web-researcher"]
    loop_runs = [order[0], order[6]]
    issue = _issue(client, "web-researcher", "TOOL_LOOP")
    assert list(issue) == ISSUE_KEYS
    times = [r["detected_at"] for r in _sql(built["db"], "SELECT detected_at FROM signals WHERE failure_type='TOOL_LOOP' "
                                             "AND agent_id='web-researcher' ORDER BY detected_at")]  # fmt: skip
    assert len(times) == 2
    assert issue["status"] == "reopened"
    assert issue["affected_runs"] == 2 and issue["clean_runs_since"] == 1
    assert issue["resolved_at"] is None  # a recurrence clears it
    assert (issue["first_seen"], issue["last_seen"]) == (times[0], times[1])
    assert issue["resolution_notes"] is None and issue["manually_resolved"] is False
    hit = {r["run_id"] for r in _sql(built["db"], "SELECT run_id FROM signals WHERE failure_type='TOOL_LOOP'")}
    assert hit == set(loop_runs)


def test_resolved_at_is_the_fifth_clean_run(client: TestClient, built: dict) -> None:
    order = built["order"]["support-bot"]
    issue = _issue(client, "support-bot", "RETRY_STORM")
    fifth = _sql(built["db"], "SELECT processed_at FROM runs WHERE run_id=?", order[5])[0][0]
    assert issue["status"] == "resolved" and issue["resolved_at"] == fifth
    assert issue["clean_runs_since"] == 6 and issue["affected_runs"] == 1


def test_status_filter_order_ids_and_search(client: TestClient, built: dict) -> None:
    assert client.get("/v1/agents/web-researcher/issues", params={"status": "all"}).json() == {"issues": [], "total": 0}
    resolved = client.get("/v1/agents/support-bot/issues", params={"status": "resolved"}).json()
    storm_types = {r[0] for r in _sql(built["db"], "SELECT failure_type FROM signals WHERE run_id=? AND shadow=0",
                                      built["order"]["support-bot"][0])}  # fmt: skip
    assert "RETRY_STORM" in storm_types
    assert {i["failure_type"] for i in resolved["issues"]} == storm_types and resolved["total"] == len(storm_types)
    assert client.get("/v1/agents/support-bot/issues", params={"status": "open"}).json()["total"] == 0
    everything = client.get("/v1/issues/search", params={"limit": 500}).json()
    issues = everything["issues"]
    assert everything["page"] == {"total": len(issues), "offset": 0, "limit": 500, "has_more": False}
    assert [i["last_seen"] for i in issues] == sorted((i["last_seen"] for i in issues), reverse=True)
    by_first = sorted(issues, key=lambda i: (i["first_seen"], i["agent_id"], i["failure_type"]))
    assert [i["id"] for i in by_first] == list(range(1, len(issues) + 1))
    live = _sql(built["db"], "SELECT COUNT(DISTINCT agent_id || '/' || failure_type) FROM signals WHERE shadow=0")[0][0]
    assert len(issues) == live
    storm = client.get("/v1/issues/search", params={"q": "storm"}).json()["issues"]
    assert [(i["agent_id"], i["failure_type"]) for i in storm] == [("support-bot", "RETRY_STORM")]
    page = client.get("/v1/issues/search", params={"limit": 1, "offset": 1}).json()
    assert page["issues"] == issues[1:2] and page["page"]["has_more"] == (len(issues) > 2)
    bad = client.get("/v1/issues/search", params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]


def test_issue_detail(client: TestClient, built: dict) -> None:
    issue = _issue(client, "web-researcher", "TOOL_LOOP")
    detail = client.get(f"/v1/issues/{issue['id']}").json()
    assert list(detail) == [
        "id", "agent_id", "failure_type", "status", "first_seen", "last_seen", "resolved_at", "affected_runs_count",
        "clean_runs_since", "resolution_notes", "manually_resolved", "affected_runs", "root_cause", "suggested_fix",
        "code_references",
    ]  # fmt: skip
    assert detail["affected_runs_count"] == 2 and detail["code_references"] == []
    assert {r["run_id"] for r in detail["affected_runs"]} == {built["order"]["web-researcher"][i] for i in (0, 6)}
    assert all(list(r) == ["run_id", "detected_at", "step_index", "confidence"] for r in detail["affected_runs"])
    assert detail["root_cause"] is None and detail["suggested_fix"] is None  # no LLM here, as on such a server
    missing = client.get("/v1/issues/9999")
    assert missing.status_code == 404 and missing.json() == {"detail": "Issue 9999 not found."}
    assert client.get("/v1/issues/abc").json()["detail"][0]["type"] == "int_parsing"
    resolve = client.post(f"/v1/issues/{issue['id']}/resolve", json={"resolution_notes": "fixed"})
    assert resolve.status_code == 501 and "resolves itself after 5 clean runs" in resolve.json()["detail"]


def test_failure_pattern_detail(client: TestClient, built: dict) -> None:
    body = client.get("/v1/agents/web-researcher/failure-patterns/TOOL_LOOP").json()
    assert list(body) == [
        "failure_type", "overview", "step_distribution", "evidence_aggregates", "daily_trend", "co_occurring", "top_runs"
    ]  # fmt: skip
    rows = _sql(built["db"], "SELECT * FROM signals WHERE failure_type='TOOL_LOOP' AND agent_id='web-researcher'")
    overview = body["overview"]
    assert (overview["affected_runs"], overview["total_runs"], overview["rate"]) == (2, 8, 0.25)
    assert overview["severity_breakdown"] == {
        s: sum(1 for r in rows if r["severity"] == s) for s in ("CRITICAL", "HIGH", "MEDIUM", "LOW")
    }
    assert overview["avg_confidence"] == round(sum(r["confidence"] for r in rows) / 2, 3)
    assert body["step_distribution"]["p50"] == float(sorted(r["step_index"] for r in rows)[0] + sorted(r["step_index"] for r in rows)[1]) / 2
    trend = body["daily_trend"]
    assert len(trend) == 14 and sum(d["affected_runs"] for d in trend) == 2
    assert sum(d["total_runs"] for d in trend) == 8
    for d in trend:
        assert d["rate"] == (round(d["affected_runs"] / d["total_runs"], 3) if d["total_runs"] else 0.0)
    agg = body["evidence_aggregates"]
    assert agg and agg[0]["tool"] == "web_search" and agg[0]["sample_count"] == 2
    assert [r["confidence"] for r in body["top_runs"]] == sorted((r["confidence"] for r in body["top_runs"]), reverse=True)
    assert all(isinstance(r["evidence"], dict) for r in body["top_runs"])
    lower = client.get("/v1/agents/web-researcher/failure-patterns/tool_loop")
    assert lower.status_code == 422 and lower.json()["detail"].startswith("Unknown failure_type 'tool_loop'. Valid: [")
    assert client.get("/v1/agents/web-researcher/failure-patterns/CUSTOM_X").json()["overview"]["affected_runs"] == 0


def test_fixes_policies_detectors_calls_and_writes(client: TestClient, built: dict) -> None:
    fixes = client.get("/v1/agents/web-researcher/fixes").json()
    assert fixes["fixes"] == [] and "no applied fixes" in fixes["note"]
    signal_id = _sql(built["db"], "SELECT MIN(id) FROM signals")[0][0]
    assert client.get(f"/v1/signals/{signal_id}/fix-status").json() == {"fix_applied": False}
    gone = client.get("/v1/signals/987654/fix-status")
    assert gone.status_code == 404 and gone.json() == {"detail": "Signal 987654 not found."}
    policies = client.get("/v1/policies", params={"agent_id": "web-researcher"})
    assert policies.json() == [] and "no policies" in policies.headers["x-dunetrace-note"]
    assert client.get("/v1/custom-detectors").json() == []
    calls = client.get("/v1/calls", params={"limit": 5}).json()
    assert calls["calls"] == [] and calls["page"] == {"total": 0, "offset": 0, "limit": 5, "has_more": False}
    assert client.get("/v1/calls", params={"completion_status": "x"}).status_code == 422
    assert client.get("/v1/calls/12").json() == {"detail": "Call 12 not found or has no runs"}
    for method, path in (
        ("POST", "/v1/policies"), ("PATCH", "/v1/policies/1/toggle"), ("DELETE", "/v1/policies/1"),
        ("POST", "/v1/custom-detectors"), ("POST", "/v1/custom-detectors/preview"),
        ("PATCH", "/v1/custom-detectors/1"), ("DELETE", "/v1/custom-detectors/1"), ("POST", f"/v1/signals/{signal_id}/explain"),
    ):  # fmt: skip
        r = client.request(method, path, json={})
        assert r.status_code == 501, (method, path)
        assert r.json()["detail"].startswith("The local store "), (method, path)
    assert client.put("/v1/policies").status_code == 405


def test_in_process_client_reads_the_new_routes(built: dict) -> None:
    """The CLI's own transport (DUNETRACE_API_URL=local:PATH) reaches the same routes."""
    import asyncio

    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.config import load_settings

    async def call() -> Any:
        async with ApiClient(load_settings(api_url=f"local:{built['db']}")) as c:
            return await c.get("/v1/issues/search", {"q": "loop"})

    body = asyncio.run(call())
    assert [i["failure_type"] for i in body["issues"]] == ["TOOL_LOOP"]


def test_writes_the_store_cannot_honour_are_one_sentence_in_process_and_over_http(invoke: Any, built: dict) -> None:
    import asyncio

    import httpx

    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.config import load_settings
    from dunetrace_cli.errors import UsageError

    r = invoke(["--api-url", f"local:{built['db']}", "issue", "resolve", "1", "--notes", "done", "--yes"], input="")  # --yes: no TTY (cli/confirm.py)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stderr.strip() == (
        "dunetrace: error: The local store cannot resolve issues by hand: an issue here resolves itself after "
        "5 clean runs in a row; resolve it on a Dunetrace backend."
    )

    async def served() -> None:  # the served store (local serve): HTTP 501, the same sentence, exit 2
        transport = httpx.ASGITransport(app=create_api_app(built["db"], stall_seconds=None))
        async with ApiClient(load_settings(api_url="http://127.0.0.1:8002"), transport=transport) as c:
            with pytest.raises(UsageError) as caught:
                await c.send("POST", "/v1/policies", {"name": "x"})
        assert "cannot do that (HTTP 501): The local store cannot create policies" in caught.value.message
        assert "logs" not in caught.value.message

    asyncio.run(served())
