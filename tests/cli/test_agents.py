"""`agents`, `summary`, `health`, `patterns`, `tokens`: tables, --json, empty states."""

from __future__ import annotations

import json

import pytest

from dunetrace_cli.queries import get_health, get_patterns, get_token_stats, list_agents, summarize_agent
from tests.cli._helpers import ok

TABLES = [
    ("latest", ["agents"]),
    ("latest", ["summary", "rag-agent"]),
    ("latest", ["summary", "clean-agent"]),
    ("latest", ["health", "langchain-example-agent"]),
    ("latest", ["health", "onboarding-agent"]),
    ("latest", ["patterns", "retry-agent"]),
    ("latest", ["patterns", "clean-agent", "--days", "7"]),
    ("latest", ["tokens", "rag-agent"]),
    ("march", ["summary", "support-agent-lc"]),
    ("march", ["health", "retry-agent"]),
    ("march", ["patterns", "rag-agent", "--days", "7"]),
    ("march", ["tokens", "retry-agent"]),
]


@pytest.mark.parametrize(("gen", "args"), TABLES, ids=[f"{g}-{'-'.join(a)}" for g, a in TABLES])
def test_table(cli, snapshot, gen: str, args: list[str]) -> None:
    assert ok(cli(*args, gen=gen)) == snapshot


JSON = [
    ("latest", ["agents"], list_agents, {}),
    ("march", ["agents"], list_agents, {}),
    ("latest", ["summary", "rag-agent"], summarize_agent, {"agent_id": "rag-agent"}),
    ("march", ["summary", "rag-agent"], summarize_agent, {"agent_id": "rag-agent"}),
    ("latest", ["health", "retry-agent"], get_health, {"agent_id": "retry-agent"}),
    ("march", ["health", "retry-agent"], get_health, {"agent_id": "retry-agent"}),
    ("latest", ["patterns", "langchain-example-agent"], get_patterns, {"agent_id": "langchain-example-agent"}),
    ("march", ["patterns", "rag-agent", "--days", "30"], get_patterns, {"agent_id": "rag-agent", "trend_days": 30}),
    ("latest", ["tokens", "support-agent-lc"], get_token_stats, {"agent_id": "support-agent-lc"}),
    ("march", ["tokens", "support-agent-lc"], get_token_stats, {"agent_id": "support-agent-lc"}),
]


@pytest.mark.parametrize(("gen", "args", "fn", "kwargs"), JSON, ids=[f"{g}-{'-'.join(a)}" for g, a, _, _ in JSON])
def test_json_is_the_query_result(cli, query_result, gen: str, args: list[str], fn, kwargs) -> None:
    printed = json.loads(ok(cli(*args, "--json", gen=gen)))
    assert printed == query_result(cli.fake(gen), fn, **kwargs)


def test_agents_json_values(cli) -> None:
    data = json.loads(ok(cli("agents", "--json")))
    raw = sorted(cli.fake().data["agents"], key=lambda a: -a["last_seen"])
    assert data["total"] == 6
    assert [a["agent_id"] for a in data["agents"]] == [a["agent_id"] for a in raw]
    first = data["agents"][0]
    assert first["run_count"] == raw[0]["run_count"] and first["signal_count"] == raw[0]["signal_count"]
    assert first["last_seen"] == raw[0]["last_seen"]
    assert first["last_seen_iso"] == "2026-11-24T11:50:47Z"  # ISO twin of the epoch


def test_summary_json_values(cli) -> None:
    data = json.loads(ok(cli("summary", "rag-agent", "--json")))
    assert (data["runs_total"], data["failing_runs"], data["clean_runs"]) == (20, 20, 0)
    assert data["health"]["score"] == cli.fake().data["health_score"]["rag-agent"]["score"]
    avoidance = next(b for b in data["breakdown"] if b["failure_type"] == "TOOL_AVOIDANCE")
    assert (avoidance["runs_affected"], avoidance["pct_of_runs"], avoidance["is_systemic"]) == (20, 100.0, True)
    newest = data["newest_signals"][0]
    raw = max(cli.fake().data["signals"]["rag-agent"], key=lambda s: (s["detected_at"], s["id"]))
    assert newest["signal"]["id"] == raw["id"]
    assert newest["first_fix"]["description"] == raw["suggested_fixes"][0]["description"]
    assert newest["signal"]["detected_at_iso"].endswith("Z")


def test_health_json_marks_the_source(cli) -> None:
    latest = json.loads(ok(cli("health", "support-agent-lc", "--json")))
    march = json.loads(ok(cli("health", "support-agent-lc", "--json", gen="march")))
    assert latest["source"] == "server" and latest["score"] == cli.fake().data["health_score"]["support-agent-lc"]["score"]
    assert march["source"] == "client" and march["notes"]


def test_tokens_json_cost_unknown_on_march(cli) -> None:
    data = json.loads(ok(cli("tokens", "rag-agent", "--json", gen="march")))
    assert data["cost_known"] is False
    assert data["windows"]["30d"]["total_cost_usd"] is None
    served = cli.fake("latest").data["token_stats"]["rag-agent"]["windows"]["30d"]
    assert data["windows"]["30d"]["total_tokens"] == served["total_tokens"]


# ---------------------------------------------------------------- empty states


def test_no_agents_yet(served, invoke, datasets) -> None:
    url, _ = served("latest", dataset={**datasets["latest"], "agents": []})
    out = ok(invoke(["agents", "--format", "table"], env={"DUNETRACE_API_URL": url}))
    assert out.strip() == "No agents yet. Instrument one with the SDK: dunetrace guide python"
    assert ok(invoke(["agents"], env={"DUNETRACE_API_URL": url})) == ""  # piped: no rows
    data = json.loads(ok(invoke(["agents", "--json"], env={"DUNETRACE_API_URL": url})))
    assert data == {"agents": [], "total": 0}


@pytest.mark.parametrize("gen", ["latest", "march"])
def test_clean_agent_states(cli, gen: str) -> None:
    assert "No failure signals recorded for this agent." in ok(cli("summary", "clean-agent", gen=gen))
    assert "No failure patterns in the window." in ok(cli("patterns", "clean-agent", gen=gen))
    assert "Not enough runs for a score (needs 3 in 30 days)." in ok(cli("health", "onboarding-agent", gen=gen))
