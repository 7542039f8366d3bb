"""`signals` (one agent or all) and `signal`: tables, --json, filters, empty states."""

from __future__ import annotations

import json

import pytest

from dunetrace_cli.queries import search_signals
from dunetrace_cli.queries.fixes import get_signal_with_fix as get_signal  # the `signal` op's query (issue 8)
from tests.cli._helpers import envelope, failed, ok
from tests.conftest import FIXED_NOW
from tests.fakeapi import load_dataset

_LATEST = load_dataset("latest")
_MARCH = load_dataset("march")


def _newest(data: dict, agent: str, failure_type: str) -> int:
    rows = [s for s in data["signals"][agent] if s["failure_type"] == failure_type]
    return max(rows, key=lambda s: (s["detected_at"], s["id"]))["id"]


# Real signal ids: one with prose and code in its fixes, one with the generic fallback text.
TOOL_LOOP = _newest(_LATEST, "langchain-example-agent", "TOOL_LOOP")
AVOIDANCE = _newest(_LATEST, "rag-agent", "TOOL_AVOIDANCE")
MARCH_BLOAT = _newest(_MARCH, "support-agent-lc", "CONTEXT_BLOAT")

TABLES = {
    "latest-signals-all-agents": ("latest", ["signals", "--limit", "8"]),
    "latest-signals-agent-filtered": (
        "latest", ["signals", "rag-agent", "--severity", "medium", "--type", "tool_avoidance", "--limit", "3"],
    ),
    "latest-signals-since": ("latest", ["signals", "--since", "2h", "--severity", "HIGH", "--limit", "5"]),
    "latest-signals-empty-agent": ("latest", ["signals", "clean-agent"]),
    "latest-signals-empty-type": ("latest", ["signals", "--type", "VOICE_SILENCE"]),
    "latest-signal-tool-loop": ("latest", ["signal", str(TOOL_LOOP)]),
    "latest-signal-with-agent": ("latest", ["signal", str(AVOIDANCE), "--agent", "rag-agent"]),
    "march-signals-critical": ("march", ["signals", "--severity", "critical"]),
    "march-signal-context-bloat": ("march", ["signal", str(MARCH_BLOAT)]),
}


@pytest.mark.parametrize(("gen", "args"), TABLES.values(), ids=TABLES.keys())
def test_table(cli, snapshot, gen: str, args: list[str]) -> None:
    assert ok(cli(*args, gen=gen)) == snapshot


JSON = [
    ("latest", ["signals"], search_signals, {}),
    ("march", ["signals", "--severity", "high", "--limit", "50"], search_signals, {"severity": "high", "limit": 50}),
    ("latest", ["signals", "retry-agent", "--type", "unread-tool-error"], search_signals,
     {"agent_id": "retry-agent", "failure_type": "unread-tool-error"}),
    ("march", ["signals", "rag-agent", "--since", "90m"], search_signals, {"agent_id": "rag-agent", "since": FIXED_NOW - 5400}),
    ("latest", ["signal", str(TOOL_LOOP)], get_signal, {"signal_id": TOOL_LOOP}),
    ("march", ["signal", str(MARCH_BLOAT), "--agent", "support-agent-lc"], get_signal,
     {"signal_id": MARCH_BLOAT, "agent_id": "support-agent-lc"}),
]


@pytest.mark.parametrize(("gen", "args", "fn", "kwargs"), JSON, ids=[f"{g}-{a[0]}-{i}" for i, (g, a, _, _) in enumerate(JSON)])
def test_json_is_the_query_result(cli, query_result, gen: str, args: list[str], fn, kwargs) -> None:
    printed = json.loads(ok(cli(*args, "--json", gen=gen)))
    assert printed == query_result(cli.fake(gen), fn, **kwargs)


def test_signals_json_values(cli) -> None:
    data = json.loads(ok(cli("signals", "--severity", "high", "--limit", "500", "--json")))
    high = sorted((s for ss in _LATEST["signals"].values() for s in ss if s["severity"] == "HIGH"),
                  key=lambda s: (s["detected_at"], s["id"]), reverse=True)
    assert data["total_matched"] == len(high) == 39
    assert [s["id"] for s in data["signals"]] == [s["id"] for s in high]
    assert data["severity"] == "HIGH" and data["agents_scanned"] is None and data["complete"] is True


def test_signals_since_json(cli) -> None:
    data = json.loads(ok(cli("signals", "--since", "2026-11-24T11:49:00Z", "--limit", "500", "--json")))
    assert data["since_iso"] == "2026-11-24T11:49:00Z"
    assert all(s["detected_at_iso"] >= "2026-11-24T11:49:00Z" for s in data["signals"])
    inside = [s for ss in _LATEST["signals"].values() for s in ss if s["detected_at"] >= data["since"]]
    assert data["total_matched"] == len(inside)


def test_signal_json_values(cli) -> None:
    data = json.loads(ok(cli("signal", str(TOOL_LOOP), "--json")))
    raw = next(s for s in _LATEST["signals"]["langchain-example-agent"] if s["id"] == TOOL_LOOP)
    sig = data["signal"]
    assert (sig["id"], sig["failure_type"], sig["run_id"], sig["title"]) == (TOOL_LOOP, "TOOL_LOOP", raw["run_id"], raw["title"])
    assert [f["code"] for f in sig["suggested_fixes"]] == [f["code"] for f in raw["suggested_fixes"]]
    assert data["detector"]["failure_type"] == "TOOL_LOOP"


def test_signal_table_shows_every_fix_with_its_code(cli) -> None:
    out = ok(cli("signal", str(TOOL_LOOP)))
    raw = next(s for s in _LATEST["signals"]["langchain-example-agent"] if s["id"] == TOOL_LOOP)
    for index, fix in enumerate(raw["suggested_fixes"], 1):
        assert f"Fix {index}: {fix['description']}" in out
        first_code_line = fix["code"].strip().splitlines()[0].strip()
        assert first_code_line in out
    assert f"Run: dunetrace run {raw['run_id'][:12]}" in out


def test_empty_signal_search(cli) -> None:
    assert ok(cli("signals", "clean-agent", "--format", "table")).strip() == "No signals match (agent clean-agent)."
    assert ok(cli("signals", "clean-agent")) == ""  # piped: no rows
    data = json.loads(ok(cli("signals", "clean-agent", "--json")))
    assert data["signals"] == [] and data["total_matched"] == 0


def test_severity_typo_lists_valid_values_and_sends_nothing(cli) -> None:
    stderr = failed(cli("signals", "--severity", "hgih"), 2)
    assert "invalid severity 'hgih'. Valid: CRITICAL, HIGH, MEDIUM, LOW (any case)." in stderr
    assert cli.fake().requests == []
    err = envelope(failed(cli("signals", "rag-agent", "--severity", "hgih", "--json"), 2))
    assert err == {"code": "usage", "exit_code": 2, "message": "invalid severity 'hgih'. Valid: CRITICAL, HIGH, MEDIUM, LOW (any case)."}


def test_bad_since_is_a_usage_error(cli) -> None:
    assert "invalid --since 'yesterday'" in failed(cli("signals", "--since", "yesterday"), 2)


def test_unknown_signal(cli) -> None:
    stderr = failed(cli("signal", "999999"), 4)
    assert "no signal 999999 among 96 signals of all agents" in stderr
