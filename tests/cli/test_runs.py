"""`runs`, `run`, `compare`: tables, --json, empty states, flag conflicts."""

from __future__ import annotations

import json

import pytest

from dunetrace_cli.queries import compare_runs, get_run, list_runs
from tests.cli._helpers import failed, ok
from tests.fakeapi import load_dataset

_DATA = load_dataset("latest")
# Real run ids, read from the dataset: a run with a CONTEXT_BLOAT signal, a clean run, an errored one.
BLOATED = sorted(s["run_id"] for s in _DATA["signals"]["langchain-example-agent"] if s["failure_type"] == "CONTEXT_BLOAT")[0]
CLEAN = _DATA["runs"]["clean-agent"][0]["run_id"]
ERRORED = next(r["run_id"] for r in _DATA["runs"]["retry-agent"] if r["exit_reason"] == "run.errored")

TABLES = {
    "latest-runs-limit-5": ("latest", ["runs", "rag-agent", "--limit", "5"]),
    "latest-runs-failing": ("latest", ["runs", "support-agent-lc", "--failing"]),
    "latest-runs-clean-3": ("latest", ["runs", "support-agent-lc", "--clean", "-n", "3"]),
    "latest-runs-empty": ("latest", ["runs", "clean-agent", "--failing"]),
    "latest-run-context-bloat-by-prefix": ("latest", ["run", BLOATED[:12]]),
    "latest-run-errored-with-agent": ("latest", ["run", ERRORED, "--agent", "retry-agent"]),
    "latest-compare-clean-vs-bloated": ("latest", ["compare", CLEAN[:12], BLOATED[:12]]),
    "march-runs-no-tokens": ("march", ["runs", "retry-agent", "--limit", "4"]),
    "march-run-context-bloat": ("march", ["run", BLOATED[:12]]),
}


@pytest.mark.parametrize(("gen", "args"), TABLES.values(), ids=TABLES.keys())
def test_table(cli, snapshot, gen: str, args: list[str]) -> None:
    assert ok(cli(*args, gen=gen)) == snapshot


JSON = [
    ("latest", ["runs", "langchain-example-agent", "--limit", "30"], list_runs, {"agent_id": "langchain-example-agent", "limit": 30}),
    ("march", ["runs", "support-agent-lc", "--failing"], list_runs, {"agent_id": "support-agent-lc", "status": "failing"}),
    ("latest", ["run", BLOATED[:12]], get_run, {"run_id": BLOATED[:12]}),
    ("march", ["run", BLOATED], get_run, {"run_id": BLOATED}),
    ("latest", ["compare", CLEAN, BLOATED[:12]], compare_runs, {"run_id_1": CLEAN, "run_id_2": BLOATED[:12]}),
]


@pytest.mark.parametrize(("gen", "args", "fn", "kwargs"), JSON, ids=[f"{g}-{a[0]}-{i}" for i, (g, a, _, _) in enumerate(JSON)])
def test_json_is_the_query_result(cli, query_result, gen: str, args: list[str], fn, kwargs) -> None:
    printed = json.loads(ok(cli(*args, "--json", gen=gen)))
    assert printed == query_result(cli.fake(gen), fn, **kwargs)


def test_runs_json_values(cli) -> None:
    data = json.loads(ok(cli("runs", "langchain-example-agent", "--limit", "30", "--json")))
    raw = cli.fake().data["runs"]["langchain-example-agent"]
    assert (data["total"], data["limit"], data["more"], data["filter"]) == (40, 30, 10, "all")
    assert [r["run_id"] for r in data["runs"]] == [r["run_id"] for r in raw[:30]]
    first = data["runs"][0]
    assert first["total_tokens"] == raw[0]["total_tokens"] and first["started_at"] == raw[0]["started_at"]
    assert first["started_at_iso"].startswith("2026-11-24T11:")


def test_run_json_pairs_calls(cli) -> None:
    data = json.loads(ok(cli("run", BLOATED[:12], "--json")))
    assert data["run"]["run_id"] == BLOATED and data["requested_id"] == BLOATED[:12]
    assert all(c["success"] is True and c["latency_ms"] is not None for c in data["tool_calls"])
    assert all(c["completion_tokens"] is not None and c["latency_ms"] is not None for c in data["llm_calls"])
    assert data["context_growth"]["flagged"] is True
    assert {s["failure_type"] for s in data["run"]["signals"]} >= {"CONTEXT_BLOAT"}


def test_run_table_never_prints_unknown_outcomes(cli) -> None:
    out = ok(cli("run", BLOATED[:12]))
    assert "?" not in out.replace("ok=", "")
    assert "context bloat" in out


def test_empty_run_lists(cli) -> None:
    assert ok(cli("runs", "clean-agent", "--failing", "--format", "table")).strip() == "No failing runs for clean-agent."
    assert ok(cli("runs", "clean-agent", "--failing")) == ""  # piped: no rows, nothing to grep
    data = json.loads(ok(cli("runs", "clean-agent", "--failing", "--json")))
    assert data["runs"] == [] and data["total"] == 0


def test_failing_and_clean_together_is_a_usage_error(cli) -> None:
    stderr = failed(cli("runs", "rag-agent", "--failing", "--clean"), 2)
    assert "choose --failing or --clean, not both" in stderr
    assert cli.fake().requests == []
