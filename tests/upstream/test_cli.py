"""The new commands through the CLI: tables, --json, errors, the write confirmation, and every example
in their registry entries run against the fake API."""

from __future__ import annotations

import json

from tests.fakeapi import _upstream_routes

CALL = {
    "id": 1, "agent_id": "rag-agent", "external_id": "CA1", "first_run_at": 1795520900.0, "last_run_at": 1795520990.0,
    "run_count": 2, "duration_seconds": 90.0, "completion_status": "natural", "silence_pct": 0.12,
    "agent_talk_ms": 40000, "caller_talk_ms": 30000, "voice_signal_count": 0, "cost_usd": 0.05,
    "cost_breakdown": {"stt": 0.01, "llm": 0.02, "tts": 0.01, "telephony": 0.01}, "agent_talk_ratio": 0.57,
    "sentiment_trend": None, "runs": [], "voice_signals": [], "timeline": [], "recordings": [], "signal_jumps": [],
}


def test_march_says_upgrade_with_exit_4(served, invoke) -> None:
    url, _ = served("march")
    for args in (["issues", "rag-agent"], ["issue", "1"], ["fixes", "rag-agent"], ["calls"], ["policies"],
                 ["detectors"], ["patterns", "rag-agent", "--type", "tool_loop"]):
        result = invoke(args, env={"DUNETRACE_API_URL": url})
        assert result.exit_code == 4, args
        assert "this Dunetrace server has no" in result.stderr and "upgrade the backend" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_issues_json_is_the_result(served, invoke) -> None:
    url, _ = served("latest")
    data = json.loads(invoke(["issues", "retry-agent", "--status", "all", "--json"], env={"DUNETRACE_API_URL": url}).stdout)
    assert data["agent_id"] == "retry-agent" and data["status"] == "all" and data["total"] == 7
    assert [i["status"] for i in data["issues"]][:2] == ["open", "open"]


def test_a_write_without_a_terminal_says_what_it_changes(served, invoke) -> None:
    url, fake = served("latest")
    result = invoke(["issue", "resolve", "13", "--notes", "capped"], env={"DUNETRACE_API_URL": url})
    assert result.exit_code == 0 and "Are you sure" not in result.stderr
    assert f"dunetrace: Resolve an issue (ISSUE_ID 13, --notes capped) on {url} (no terminal to confirm on" in result.stderr
    assert fake.issue_overrides[13]["resolution_notes"] == "capped"
    quiet = invoke(["issue", "resolve", "13", "--notes", "again", "--yes"], env={"DUNETRACE_API_URL": url})
    assert quiet.exit_code == 0 and "no terminal" not in quiet.stderr


def test_a_terminal_is_asked_and_no_means_no(served, invoke, monkeypatch) -> None:
    from dunetrace_cli.cli import confirm

    url, fake = served("latest")
    monkeypatch.setattr(confirm, "_interactive", lambda: True)
    declined = invoke(["policy", "create", "g", "--condition", '{"trigger": "step_count", "operator": "gt", "value": 5}',
                       "--action", '{"type": "log"}'], env={"DUNETRACE_API_URL": url}, input="n\n")
    assert declined.exit_code == 2 and "Are you sure? [y/N]" in declined.stderr
    assert "not confirmed: nothing was changed." in declined.stderr and fake.policies == []
    accepted = invoke(["policy", "create", "g", "--condition", '{"trigger": "step_count", "operator": "gt", "value": 5}',
                       "--action", '{"type": "log"}'], env={"DUNETRACE_API_URL": url}, input="y\n")
    assert accepted.exit_code == 0 and [p["name"] for p in fake.policies] == ["g"]


def test_bad_policy_json_fails_before_asking_or_sending(served, invoke, monkeypatch) -> None:
    from dunetrace_cli.cli import confirm

    url, fake = served("latest")
    monkeypatch.setattr(confirm, "_interactive", lambda: True)
    result = invoke(["policy", "create", "g", "--condition", '{"trigger": ', "--action", '{"type": "log"}'],
                    env={"DUNETRACE_API_URL": url}, input="y\n")
    assert result.exit_code == 2 and "the policy condition is not valid JSON" in result.stderr
    assert "Are you sure" not in result.stderr and fake.requests == []


def test_issue_progress_goes_to_stderr(served, invoke) -> None:
    url, _ = served("latest")
    result = invoke(["issue", "13", "--json"], env={"DUNETRACE_API_URL": url})
    assert result.exit_code == 0 and json.loads(result.stdout)["id"] == 13
    assert "the server may run an LLM explanation first" in result.stderr


def test_hostile_issue_text_is_escaped(served, invoke) -> None:
    url, fake = served("latest")
    fake.issue_overrides[13] = {"resolution_notes": "fixed \x1b]52;c;ZXZpbA==\x07 \u202eevil"}
    result = invoke(["issue", "13"], env={"DUNETRACE_API_URL": url})
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "\\x1b]52" in result.stdout and "\\u202e" in result.stdout


assert _upstream_routes  # the fake's routes module (imported so a syntax error there fails this file early)
