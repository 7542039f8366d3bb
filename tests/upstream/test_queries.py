"""The new read and write queries on both server generations (the March one has none of the routes)."""

from __future__ import annotations

import pytest

from dunetrace_cli.errors import ApiUnavailable, NotFound, UsageError
from dunetrace_cli.queries import calls, detectors, failure_pattern, fixes, issues, policies, writes

pytestmark = pytest.mark.anyio

MARCH_CALLS = [
    (issues.list_agent_issues, {"agent_id": "rag-agent"}, "issues"),
    (issues.search_issues, {"query": "loop"}, "issues"),
    (issues.get_issue, {"issue_id": 1}, "issues"),
    (fixes.list_agent_fixes, {"agent_id": "rag-agent"}, "fixes"),
    (fixes.get_fix_status, {"signal_id": 23}, "fix-status"),
    (failure_pattern.get_failure_pattern_detail, {"agent_id": "rag-agent", "failure_type": "tool_loop"}, "failure-pattern"),
    (calls.list_voice_calls, {}, "voice calls"),
    (calls.get_call_detail, {"conversation_id": 1}, "voice calls"),
    (policies.list_policies, {}, "policies"),
    (detectors.list_custom_detectors, {}, "custom-detectors"),
    (writes.resolve_issue, {"issue_id": 1, "resolution_notes": "x"}, "issues"),
    (writes.delete_policy, {"policy_id": "1"}, "policies"),
    (writes.trigger_explain, {"signal_id": 23}, "explain"),
]


@pytest.mark.parametrize(("query", "kwargs", "what"), MARCH_CALLS, ids=[q.__name__ for q, _, _ in MARCH_CALLS])
async def test_march_server_answers_one_sentence(api_client, fake_march, query, kwargs, what) -> None:
    with pytest.raises(NotFound) as caught:
        await query(api_client(fake_march), **kwargs)
    assert caught.value.message == (
        f"this Dunetrace server has no {what} route (it predates that feature): upgrade the backend to use it."
    )
    assert caught.value.exit_code == 4


async def test_agent_issues_default_open_and_all(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    opened = await issues.list_agent_issues(client, agent_id="retry-agent")
    everything = await issues.list_agent_issues(client, agent_id="retry-agent", status="ALL")
    assert opened.status == "open" and {i.status for i in opened.issues} == {"open"}
    assert everything.status == "all" and len(everything.issues) == everything.total == 7
    assert {i.status for i in everything.issues} == {"open", "reopened", "resolved"}
    assert ("status", "all") not in [tuple(p.items())[0] for _, p in [(m, q) for m, _, q in fake_latest.requests] if p]


async def test_agent_issues_unknown_agent_and_bad_status(api_client, fake_latest) -> None:
    with pytest.raises(NotFound, match="no agent 'rag-agnet'.*did you mean 'rag-agent'"):
        await issues.list_agent_issues(api_client(fake_latest), agent_id="rag-agnet")
    fake_latest.requests.clear()
    with pytest.raises(UsageError, match="invalid issue status 'closed'"):
        await issues.list_agent_issues(api_client(fake_latest), agent_id="rag-agent", status="closed")
    assert fake_latest.requests == []  # checked before any request


async def test_search_issues(api_client, fake_latest) -> None:
    found = await issues.search_issues(api_client(fake_latest), query="loop", limit=2)
    expected = sorted((i for i in fake_latest._all_issues() if "LOOP" in i["failure_type"]), key=lambda i: -i["last_seen"])
    assert [(i["agent_id"], i["failure_type"]) for i in expected] == [
        ("langchain-example-agent", "TOOL_LOOP"), ("langchain-example-agent", "LLM_TRUNCATION_LOOP"),
        ("retry-agent", "TOOL_LOOP"),
    ]
    assert found.total == 3 and [i.id for i in found.issues] == [i["id"] for i in expected[:2]]
    more = await issues.search_issues(api_client(fake_latest), query="loop", limit=600)
    assert len(more.issues) == 3
    typed = await issues.search_issues(api_client(fake_latest), failure_type="tool-loop")
    assert {i.failure_type for i in typed.issues} == {"TOOL_LOOP"}
    sent = [p for _, path, p in fake_latest.requests if path == "/v1/issues/search"][-1]
    assert sent["failure_type"] == "TOOL_LOOP" and "status" not in sent


async def test_find_issues_routes_by_arguments(api_client, fake_latest) -> None:
    one = await issues.find_issues(api_client(fake_latest), agent_id="langchain-example-agent", status="open")
    assert one.agent_id == "langchain-example-agent" and any("/issues" in p for _, p, _ in fake_latest.requests)
    many = await issues.find_issues(api_client(fake_latest), query="retry")
    assert many.agent_id is None and {i.agent_id for i in many.issues} == {"retry-agent"}


async def test_get_issue_progress_and_notes(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    said: list[str] = []
    client.progress = said.append
    detail = await issues.get_issue(client, issue_id="#13")
    assert detail.id == 13 and detail.affected_runs_count == 13 and len(detail.affected_runs) == 5
    assert said and "LLM explanation" in said[0] and "5s" in said[0]
    assert detail.notes == ["no root cause or suggested fix: the server has no LLM key configured, or the explanation failed."]
    fake_latest.llm = True
    explained = await issues.get_issue(api_client(fake_latest), issue_id=13)
    assert explained.root_cause and explained.notes == []
    with pytest.raises(NotFound, match=r"^Issue 999 not found\.$"):
        await issues.get_issue(api_client(fake_latest), issue_id=999)
    with pytest.raises(UsageError):
        await issues.get_issue(api_client(fake_latest), issue_id="abc")


async def test_get_issue_timeout_names_the_explanation(api_client, served) -> None:
    url, fake = served("latest")
    fake.llm, fake.explain_delay = True, 0.6
    async with api_client(api_url=url, timeout=0.2) as client:
        with pytest.raises(ApiUnavailable, match=r"did not finish issue 13 within 0\.2s .*--timeout 60"):
            await issues.get_issue(client, issue_id=13)


async def test_fix_status_and_fixes(api_client, fake_latest) -> None:
    status = await fixes.get_fix_status(api_client(fake_latest), signal_id=23)
    assert status.signal_id == 23 and status.fix_applied is False
    fake_latest.fix_status[23] = {
        "fix_applied": True, "applied_at": 1795520000.0, "applied_via": "clipboard", "langfuse_prompt_name": None,
        "langfuse_version": None, "runs_after_fix": 12, "recurrences_after_fix": 0, "verdict": "verified",
    }
    status = await fixes.get_fix_status(api_client(fake_latest), signal_id=23)
    assert (status.verdict, status.runs_after_fix, status.applied_at) == ("verified", 12, 1795520000.0)
    with pytest.raises(NotFound, match=r"^Signal 99999 not found\.$"):
        await fixes.get_fix_status(api_client(fake_latest), signal_id=99999)
    assert await fixes.fix_status_or_none(api_client(fake_latest), 99999) is None
    listed = await fixes.list_agent_fixes(api_client(fake_latest), agent_id="rag-agent")
    assert listed.fixes == [] and listed.agent_id == "rag-agent"


async def test_pattern_detail_sends_the_server_spelling(api_client, fake_latest) -> None:
    detail = await failure_pattern.get_failure_pattern_detail(
        api_client(fake_latest), agent_id="langchain-example-agent", failure_type="tool_loop"
    )
    assert detail.failure_type == "TOOL_LOOP" and detail.overview.affected_runs == 13
    assert detail.step_distribution.p50 == 23.0 and len(detail.daily_trend) == 14
    assert any(p.endswith("/failure-patterns/TOOL_LOOP") for _, p, _ in fake_latest.requests)


async def test_pattern_detail_accepts_iso_times(api_client, fake_latest, monkeypatch) -> None:
    """queries.py's agent_failure_pattern formats first_seen/detected_at with isoformat(): accept both."""
    from tests.fakeapi import _upstream

    real = _upstream.failure_pattern

    def iso_times(*args, **kwargs):
        body = real(*args, **kwargs)
        body["overview"]["first_seen"] = "2026-11-24T11:48:52.942620+00:00"
        body["top_runs"][0]["detected_at"] = "2026-11-24T11:49:28+00:00"
        return body

    monkeypatch.setattr(_upstream, "failure_pattern", iso_times)
    detail = await failure_pattern.get_failure_pattern_detail(
        api_client(fake_latest), agent_id="langchain-example-agent", failure_type="TOOL_LOOP"
    )
    assert detail.overview.first_seen == pytest.approx(1795520932.94262)
    assert detail.top_runs[0].detected_at == 1795520968.0


CALL = {
    "id": 7, "agent_id": "rag-agent", "external_id": "CA123", "first_run_at": 1795520900.0, "last_run_at": 1795520990.0,
    "run_count": 3, "duration_seconds": 90.0, "completion_status": "dropped", "silence_pct": 0.12, "agent_talk_ms": 40000,
    "caller_talk_ms": 30000, "voice_signal_count": 2, "cost_usd": 0.42,
    "cost_breakdown": {"stt": 0.1, "llm": 0.2, "tts": 0.1, "telephony": 0.02}, "agent_talk_ratio": 0.57,
    "sentiment_trend": None, "runs": [], "voice_signals": ["VOICE_DEAD_AIR"], "timeline": [], "recordings": [],
    "signal_jumps": [],
}


async def test_calls(api_client, fake_latest) -> None:
    fake_latest.calls.append(CALL)
    listed = await calls.list_voice_calls(api_client(fake_latest), completion_status="Dropped", cost_bucket="medium")
    assert [c.id for c in listed.calls] == [7] and listed.calls[0].silence_pct == 0.12
    assert not hasattr(listed.calls[0], "voice_signals") or "voice_signals" not in listed.calls[0].model_fields_set
    none = await calls.list_voice_calls(api_client(fake_latest), cost_bucket="low")
    assert none.calls == [] and none.total == 0
    detail = await calls.get_call_detail(api_client(fake_latest), conversation_id="7")
    assert detail.voice_signals == ["VOICE_DEAD_AIR"] and detail.cost_breakdown["llm"] == 0.2
    with pytest.raises(UsageError, match="invalid completion status 'hung'"):
        await calls.list_voice_calls(api_client(fake_latest), completion_status="hung")


async def test_policy_writes_roundtrip(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    made = await writes.create_policy(
        client, name="guard", agent_id="rag-agent",
        condition='{"trigger": "tool_call_count", "operator": "gt", "value": 10}', action='{"type": "stop"}',
    )
    assert made.id == 1 and made.changed
    listed = await policies.list_policies(client, agent_id="rag-agent")
    assert [(p.id, p.name, p.enabled) for p in listed.policies] == [(1, "guard", True)]
    same = await writes.toggle_policy(client, policy_id="1", enabled=True)
    assert same.changed is False and "already enabled" in same.message
    off = await writes.toggle_policy(client, policy_id="1", enabled=False)
    assert off.changed and fake_latest.policies[0]["enabled"] is False
    gone = await writes.delete_policy(client, policy_id=1)
    assert gone.body == {"deleted": True, "policy_id": 1}
    with pytest.raises(NotFound, match=r"^Policy 1 not found\.$"):
        await writes.delete_policy(client, policy_id=1)


@pytest.mark.parametrize("condition", ['{"trigger": ', "[1, 2]", '{"operator": "gt"}'])
async def test_bad_policy_condition_is_refused_before_any_request(api_client, fake_latest, condition) -> None:
    with pytest.raises(UsageError, match="condition"):
        await writes.create_policy(api_client(fake_latest), name="x", agent_id="*", condition=condition, action='{"type": "stop"}')
    assert fake_latest.requests == []


async def test_detector_writes(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    with pytest.raises(ApiUnavailable, match="cannot run its LLM for this .*nothing was changed"):
        await writes.create_custom_detector(client, description="flag runs with more than 3 searches")
    fake_latest.llm = True
    made = await writes.create_custom_detector(client, description="flag runs with more than 3 searches")
    assert made.id == 1 and "shadow mode" in made.message
    listed = await detectors.list_custom_detectors(client)
    assert listed.detectors[0].status == "shadow" and listed.detectors[0].config["conditions"][0]["threshold"] == 3
    assert listed.detectors[0].created_at == fake_latest.now  # ISO on the wire
    await writes.activate_custom_detector(client, detector_id="1")
    assert fake_latest.detectors[0]["status"] == "active"
    await writes.pause_custom_detector(client, detector_id="1")
    assert fake_latest.detectors[0]["status"] == "paused"
    deleted = await writes.delete_custom_detector(client, detector_id="1")
    assert deleted.body is None and fake_latest.detectors == []


async def test_resolve_issue_and_explain(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    with pytest.raises(UsageError, match="resolution notes are required"):
        await writes.resolve_issue(client, issue_id=13, resolution_notes="  ")
    done = await writes.resolve_issue(client, issue_id=13, resolution_notes="capped retries")
    assert done.body == {"resolved": True, "issue_id": 13}
    assert (await issues.get_issue(client, issue_id=13)).status == "resolved"
    with pytest.raises(ApiUnavailable, match=r"HTTP 503: no LLM key configured"):
        await writes.trigger_explain(client, signal_id=23)


async def test_signal_view_carries_the_fix_status(api_client, fake) -> None:
    from dunetrace_cli.render.markdown import render_signal_view

    wanted = fake.data["signals"]["rag-agent"][0]["id"]
    if fake.generation == "latest":
        fake.fix_status[wanted] = {
            "fix_applied": True, "applied_at": 1795520000.0, "applied_via": "github_pr", "langfuse_prompt_name": None,
            "langfuse_version": None, "runs_after_fix": 6, "recurrences_after_fix": 0, "verdict": "likely_fixed",
        }
    view = await fixes.get_signal_with_fix(api_client(fake), signal_id=wanted)
    assert view.signal.id == wanted
    text = render_signal_view(view, now=1795524647)
    if fake.generation == "march":
        assert view.fix_status is None and "Fix status" not in text
    else:
        assert view.fix_status is not None and view.fix_status.verdict == "likely_fixed"
        assert view.model_dump(mode="json")["fix_status"]["runs_after_fix"] == 6
        assert "Fix status: likely_fixed (applied via github_pr): 6 runs since, 0 recurrences" in text
