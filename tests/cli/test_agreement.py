"""`summary` and `patterns` agree on what is systemic, over one stated window (domain/systemic.py)."""

from __future__ import annotations

import json

import pytest

from tests.cli._helpers import ok
from tests.conftest import FIXED_NOW

AGENTS = ["retry-agent", "rag-agent", "langchain-example-agent", "support-agent-lc"]


@pytest.mark.parametrize("gen", ["latest", "march"])
@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("days_later", [0, 8])
def test_same_systemic_verdict(cli, gen: str, agent: str, days_later: int) -> None:
    env = {"DUNETRACE_NOW": str(FIXED_NOW + days_later * 86400)}
    summary = json.loads(ok(cli("summary", agent, "--json", gen=gen, env=env)))
    patterns = json.loads(ok(cli("patterns", agent, "--json", gen=gen, env=env)))
    in_summary = {b["failure_type"] for b in summary["breakdown"] if b["is_systemic"]}
    in_patterns = {p["failure_type"] for p in patterns["patterns"] if p["is_systemic"]}
    assert in_summary == in_patterns
    assert summary["systemic_window_days"] == patterns["window_days"] == 7
    if gen == "march" and days_later:  # idle for 8 days: nothing is systemic, and patterns says why
        assert in_summary == set()
        assert {p["kind"] for p in patterns["patterns"]} <= {"no runs"}


def test_both_state_the_window(cli) -> None:
    assert "systemic = ≥10% of runs over the last 7 days (16 runs in that window)" in ok(cli("summary", "retry-agent"))
    assert "systemic = ≥10% of runs over the last 7 days" in ok(cli("patterns", "retry-agent"))
